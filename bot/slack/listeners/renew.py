"""``/apns renew``: the modal, its submission, and the pre-flight that runs behind it.

The ``trigger_id`` is good for one ``views.open`` within 3 s, so the modal opens first (on the
bot's modal executor, right after the acknowledgement) and what needs Graph (the current Apple ID
and topic) is filled in afterwards with ``views.update``. A submission is acknowledged at once with
a "checking" view; the download and the checks run on the bot's executor and update the modal with
the outcome.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View as ModalView

from bot.config import Settings, TenantSettings
from bot.core.token_choice import most_urgent
from bot.core.tokens import AppleToken
from bot.errors import ApnsBotError
from bot.slack.forms import RenewForm, acted_from, acting_from, parse_choice, parse_renew_form
from bot.slack.ids import Block, View
from bot.slack.listeners.commands import CommandCall, Verb, reply
from bot.slack.listeners.renew_token import (
    LOADING,
    fill_token_form,
    open_token_form,
    refused_at_submit,
    token_kind,
)
from bot.slack.listeners.renew_token import (
    register as register_token_form,
)
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import escape
from bot.slack.views.renew import (
    checking_modal,
    failed_modal,
    problems_modal,
    refused_modal,
    renew_modal,
    sent_modal,
    waiting_modal,
)
from bot.slack.views.renew_token import PUSH, chooser_modal, token_note_modal, token_value
from bot.slack.visibility import not_shown
from bot.usecases.renewals import MAX_UPLOAD_BYTES, Submission
from bot.usecases.token_renewals import TOKEN_KINDS, list_tokens

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

UNKNOWN_TENANT = (
    "This form is for a tenant apns-bot no longer serves. Close it and start again with "
    "/apns renew."
)


def open_renew_modal(
    deps: SlackContext,
    trigger_id: str,
    tenant: TenantSettings,
    respond: Any = None,
    *,
    viewer: tuple[str, str | None],
) -> None:
    """Open the form (``/apns renew``, the reminders' and Home's *Start renewal*) for ``viewer``
    (user id, channel acted from) if they may see ``tenant``: the form shows its Apple ID and
    topic. Run it on ``deps.modals`` right after the acknowledgement, within the trigger's 3 s."""
    user_id, channel_id = viewer
    if not deps.approvers.may_see(tenant, user_id, channel_id):
        if respond is not None:
            reply(respond, not_shown(tenant))
        else:  # the Home tab has no response_url: a direct message
            _tell_directly(deps, user_id, not_shown(tenant))
        return
    try:
        opened = deps.slack_trigger.views_open(
            trigger_id=trigger_id,
            view=acting_from(renew_modal(tenant, deps.clock()), channel_id).to_dict(),
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.error("views.open failed: %s", exc)
        if respond is not None:
            reply(respond, ":warning: The renewal form could not be opened; try again.")
        return
    view = opened.get("view") or {}
    deps.background.submit(
        _fill_in, deps, str(view.get("id")), view.get("hash"), tenant, channel_id
    )


def _tell_directly(deps: SlackContext, user_id: str, text: str) -> None:
    try:
        deps.slack.chat_postMessage(channel=user_id, text=text)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.error("cannot tell %s: %s", user_id, type(exc).__name__)


def _fill_in(
    deps: SlackContext,
    view_id: str,
    view_hash: str | None,
    tenant: TenantSettings,
    channel: str | None,
) -> None:
    """The certificate form, or, when the tenant has ADE or VPP tokens too, what to renew (the
    most urgent preselected). Tokens that cannot be read (no permission) leave the form as is."""
    try:
        client = deps.graph(tenant)
        current = client.get_certificate()
    except ApnsBotError:
        fill_certificate_form(deps, view_id, view_hash, tenant, channel)
        return
    tokens: list[AppleToken] = []
    for kind in TOKEN_KINDS:
        try:
            tokens += list_tokens(client, kind)
        except ApnsBotError as exc:
            log.info("no %s tokens listed for the chooser: %s", kind.value, type(exc).__name__)
    now = deps.clock()
    if not tokens:
        update_modal(
            deps, view_id, acting_from(renew_modal(tenant, now, current), channel), view_hash
        )
        return
    urgent = most_urgent(current if current.exists else None, tokens, now)
    preselected = token_value(urgent) if urgent is not None else PUSH
    chooser = chooser_modal(tenant, now, current, tokens, preselected)
    update_modal(deps, view_id, acting_from(chooser, channel), view_hash)


def fill_certificate_form(
    deps: SlackContext,
    view_id: str,
    view_hash: str | None,
    tenant: TenantSettings,
    channel: str | None,
) -> None:
    try:
        current = deps.graph(tenant).get_certificate()
        view = renew_modal(tenant, deps.clock(), current)
    except ApnsBotError as exc:
        view = renew_modal(
            tenant,
            deps.clock(),
            note=f":warning: The current certificate could not be read: {escape(exc.user_message)}",
        )
    update_modal(deps, view_id, acting_from(view, channel), view_hash)


def update_modal(
    deps: SlackContext, view_id: str, view: ModalView, view_hash: str | None = None
) -> None:
    try:
        deps.slack.views_update(view_id=view_id, hash=view_hash, view=view.to_dict())
    except SlackApiError as exc:
        # hash_conflict: the person already submitted or closed the modal; nothing to do
        log.info("views.update skipped: %s", exc.response.get("error"))
    except (SlackClientError, OSError) as exc:
        log.error("views.update failed: %s", type(exc).__name__)


def register(app: App, settings: Settings, deps: SlackContext) -> dict[str, Verb]:
    """Register the modals' submissions; return the ``renew`` verb for ``/apns``."""
    register_token_form(app, settings, deps)

    def verb_renew(call: CommandCall) -> None:
        call.ack()
        kind = token_kind(call.args[0]) if call.args else None
        if kind is not None:  # /apns renew ade|vpp [NAME]
            deps.modals.submit(
                open_token_form,
                deps,
                call.trigger_id,
                call.tenant,
                call.respond,
                viewer=(call.user_id, call.channel_id),
                kind=kind,
                wanted=" ".join(call.args[1:]) or None,
            )
            return
        deps.modals.submit(
            open_renew_modal,
            deps,
            call.trigger_id,
            call.tenant,
            call.respond,
            viewer=(call.user_id, call.channel_id),
        )

    @app.view(View.RENEW_CHOOSE)
    def handle_renew_choice(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        name, value = parse_choice(view)
        tenant = settings.tenants.get(name or "")
        word, _, token_id = (value or "").partition("|")
        kind = token_kind(word)
        if tenant is None or (value != PUSH and (kind is None or not token_id)):
            ack(response_action="errors", errors={Block.RENEW_WHAT: "Choose what to renew."})
            return
        view_id, channel = str(view["id"]), acted_from(view)
        if refused_at_submit(deps, ack, tenant, body, lambda no: refused_modal(tenant, no)):
            return
        if kind is None:  # the push certificate
            form = acting_from(renew_modal(tenant, deps.clock()), channel)
            ack(response_action="update", view=form.to_dict())
            deps.background.submit(fill_certificate_form, deps, view_id, None, tenant, channel)
            return
        loading = acting_from(token_note_modal(tenant, kind, "", LOADING), channel)
        ack(response_action="update", view=loading.to_dict())
        deps.background.submit(
            fill_token_form, deps, view_id, None, tenant, kind, token_id, channel=channel
        )

    @app.view(View.RENEW)
    def handle_renew_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, errors = parse_renew_form(view)
        if form.file is not None and (form.file.size or 0) > MAX_UPLOAD_BYTES:
            errors[Block.CERTIFICATE] = (
                "This file is far too large for a push certificate (Apple's .pem is about 2 KB)."
            )
        if errors:
            ack(response_action="errors", errors=errors)
            return
        tenant = settings.tenants.get(form.tenant or "")
        if tenant is None:  # the form names no tenant this bot serves: never guess one
            ack(response_action="errors", errors={Block.CERTIFICATE: UNKNOWN_TENANT})
            return
        if refused_at_submit(deps, ack, tenant, body, lambda no: refused_modal(tenant, no)):
            return
        assert form.file is not None  # no errors means one file
        ack(response_action="update", view=checking_modal(tenant, form.file.name))
        deps.background.submit(check_and_submit, str(view["id"]), tenant, body["user"]["id"], form)

    def check_and_submit(
        view_id: str, tenant: TenantSettings, user_id: str, form: RenewForm
    ) -> None:
        assert form.file is not None
        file = form.file

        def check() -> ModalView:
            content = deps.files.download(file.url, limit=MAX_UPLOAD_BYTES)
            submission = deps.renewals.submit(tenant, user_id, form.apple_id, content, form.reason)
            return submitted_modal(deps, tenant, submission)

        # the modal must not stay on "Checking…", whatever happens
        view = outcome_of(
            "checking the file",
            check,
            refused=lambda exc: failed_modal(tenant, exc.user_message),
            failed=lambda sentence: failed_modal(tenant, sentence),
        )
        update_modal(deps, view_id, view)

    return {"renew": verb_renew}


def submitted_modal(
    deps: SlackContext, tenant: TenantSettings, submission: Submission
) -> ModalView:
    """What became of a submitted certificate, for the person who submitted it."""
    if submission.waiting_for is not None:
        return waiting_modal(tenant, submission.waiting_for, deps.approvers.mentions(tenant))
    if submission.request is None:
        problems = [(p.code, p.severity, p.message) for p in submission.inspection.errors]
        problems += [(p.code, p.severity, p.message) for p in submission.inspection.warnings]
        return problems_modal(tenant, problems)
    if not submission.posted:
        return failed_modal(
            tenant,
            f"The certificate passed the checks, but the approval message could not be "
            f"posted in <#{tenant.channel}>. Invite the bot to that channel "
            f"(/invite @apns-bot) and try again.",
        )
    warnings = [p.message for p in submission.inspection.warnings]
    return sent_modal(tenant, tenant.channel, warnings)
