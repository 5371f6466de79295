"""The workflow's ``Notifier`` port, played by Slack: approval messages and results in the channel.

A Slack failure here is logged and swallowed: the store already holds the truth, and the message is
re-rendered from it at the next change. Nothing here raises into the workflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest
from bot.core.signin import SignInWait
from bot.core.token_requests import needs_resubmission
from bot.slack.approvers import ApproverDirectory
from bot.slack.views.approval import renewed_notice, request_message
from bot.slack.views.blocks import to_dicts
from bot.slack.views.token_approval import token_renewed_notice, what_is
from bot.usecases.signin_messages import failure_mrkdwn

log = logging.getLogger(__name__)


class SlackNotifier:
    def __init__(
        self,
        settings: Settings,
        client: WebClient,
        approvers: ApproverDirectory,
        clock: Callable[[], datetime],
        *,
        waiting_for: Callable[[str], SignInWait | None] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.approvers = approvers
        self.clock = clock
        self.waiting_for = waiting_for  # delegated: whose sign-in a request waits for

    def _render(self, request: ChangeRequest) -> tuple[str, list[dict[str, object]]]:
        tenant = self.settings.tenants[request.tenant]
        text, blocks = request_message(
            request,
            tenant,
            required=self.settings.required_approvals,
            ttl_hours=self.settings.approval_ttl_hours,
            mentions=self.approvers.mentions(tenant),
            waiting=self.waiting_for(request.id) if self.waiting_for else None,
        )
        return text, to_dicts(blocks)

    def post_request(self, request: ChangeRequest) -> tuple[str, str] | None:
        channel = self.settings.tenants[request.tenant].channel
        try:  # a view that breaks Slack's limits raises SlackObjectFormationError (a client error)
            text, blocks = self._render(request)
            answer = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("cannot post approval message for %s: %s", request.id, _why(exc))
            return None
        return str(answer["channel"]), str(answer["ts"])

    def update_request(self, request: ChangeRequest) -> None:
        if not request.message_channel or not request.message_ts:
            return
        try:  # a view that breaks Slack's limits raises SlackObjectFormationError (a client error)
            text, blocks = self._render(request)
            self.client.chat_update(
                channel=request.message_channel, ts=request.message_ts, text=text, blocks=blocks
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("cannot update approval message for %s: %s", request.id, _why(exc))

    def post_renewed(self, request: ChangeRequest, observed: TenantCertificate) -> None:
        tenant = self.settings.tenants[request.tenant]
        expiry = observed.expires_at or request.not_after
        self._post(tenant.channel, renewed_notice(tenant, expiry, self.clock()))

    def post_token_renewed(self, request: ChangeRequest, expiry: datetime | None) -> None:
        tenant = self.settings.tenants[request.tenant]
        self._post(tenant.channel, token_renewed_notice(request, tenant, expiry, self.clock()))

    def post_failed(self, request: ChangeRequest) -> None:
        tenant = self.settings.tenants[request.tenant]
        failure = request.failure
        detail = f"`{failure.code}`: {failure_mrkdwn(failure)}" if failure else "unknown error"
        if failure and failure.request_id:
            detail += f" (request-id `{failure.request_id}`)"
        what = "the APNs certificate" if request.token is None else f"the {what_is(request)}"
        if needs_resubmission(request):  # Retry would read the same and refuse again
            then = "This request cannot be retried: submit the file again (it is checked anew)."
        else:
            then = f"{self.approvers.mentions(tenant)} can press *Retry upload* on the request."
        self._post(
            tenant.channel,
            f":x: Uploading {what} to Intune failed — {detail}. {then}",
            thread_ts=request.message_ts,
        )

    def _post(self, channel: str, text: str, thread_ts: str | None = None) -> None:
        try:
            self.client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("cannot post to %s: %s", channel, _why(exc))


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__
