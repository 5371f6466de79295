"""Approve, Reject and Retry on the approval message: thin listeners over ``Renewals``.

Every click is acknowledged at once; the decision (approver check, store, Graph) runs on the
bot's executor and answers the person who clicked ephemerally when there is something to say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.core.requests import is_request_id
from bot.errors import ApnsBotError
from bot.slack.forms import parse_reject_reason
from bot.slack.ids import Action, Block, View
from bot.slack.outcomes import outcome_of
from bot.slack.views.approval import reject_modal

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    """(request id, user id) of a button click; the button carries only the request id."""
    action = (body.get("actions") or [{}])[0]
    return str(action.get("value", "")), str(body["user"]["id"])


def register(app: App, settings: Settings, deps: SlackContext) -> None:
    def decide(respond: Respond, use_case: Callable[..., str | None], *args: Any) -> None:
        answer = outcome_of(
            "handling your click", lambda: use_case(*args), refused=_sentence, failed=str
        )
        if answer:
            respond(text=answer, response_type="ephemeral", replace_original=False)

    def decision_listener(use_case: Callable[[str, str], str | None]) -> Callable[..., None]:
        """Approve and Retry: ack at once, decide on the executor, answer the clicker."""

        def handle_decision_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
            ack()
            request_id, user_id = _clicked(body)
            if is_request_id(request_id):
                deps.background.submit(decide, respond, use_case, request_id, user_id)

        return handle_decision_action

    app.action(Action.APPROVE)(decision_listener(deps.renewals.approve))
    app.action(Action.RETRY)(decision_listener(deps.renewals.retry))

    @app.action(Action.REJECT)
    def handle_reject_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id, _ = _clicked(body)
        if is_request_id(request_id):
            # the trigger_id lives 3 s: the reason modal opens right after the acknowledgement
            deps.modals.submit(open_reason_modal, str(body["trigger_id"]), request_id, respond)

    def open_reason_modal(trigger_id: str, request_id: str, respond: Respond) -> None:
        try:
            deps.slack_trigger.views_open(
                trigger_id=trigger_id, view=reject_modal(request_id).to_dict()
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("views.open for reject failed: %s", type(exc).__name__)
            respond(
                text=":warning: The rejection form could not be opened; try again.",
                response_type="ephemeral",
                replace_original=False,
            )

    @app.view(View.REJECT_REASON)
    def handle_reject_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        request_id, reason = parse_reject_reason(view)
        if not reason:
            ack(
                response_action="errors",
                errors={Block.REJECT_REASON: "Say why, for the requester."},
            )
            return
        ack()
        if request_id and is_request_id(request_id):
            deps.background.submit(tell_rejection, request_id, str(body["user"]["id"]), reason)

    def tell_rejection(request_id: str, user_id: str, reason: str) -> None:
        answer = outcome_of(
            "recording the rejection",
            lambda: deps.renewals.reject(request_id, user_id, reason),
            refused=_sentence,
            failed=str,
        )
        request = deps.store.get_request(request_id)
        if answer and request is not None:
            channel = (
                settings.tenants[request.tenant].channel
                if request.tenant in settings.tenants
                else None
            )
            if channel:
                try:
                    deps.slack.chat_postEphemeral(channel=channel, user=user_id, text=answer)
                except (SlackApiError, SlackClientError, OSError) as exc:
                    log.error("cannot tell %s: %s", user_id, type(exc).__name__)


def _sentence(error: ApnsBotError) -> str:
    return error.user_message
