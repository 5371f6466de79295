"""Renewing an ADE or Apps and Books (VPP) token in Slack: the form, its submission, and the
chooser ``/apns renew`` shows when the tenant has more than the push certificate.

Entry points: ``/apns renew ade [NAME]`` / ``/apns renew vpp [NAME]``; the chooser's *Next*; a
*Start renewal* button whose value is ``<tenant>|ade|<token id>`` or ``<tenant>|vpp|<token id>``
(``bot.slack.listeners.home``). As for the certificate: the modal opens first, within the
trigger's 3 s, and what needs Graph (which token, its facts) is filled in with ``views.update``;
a submission is acknowledged at once with a "checking" view and the download, the checks and the
request run on the bot's executor. Nothing is stored before the checks pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View as ModalView

from bot.config import Settings, TenantSettings
from bot.core.token_choice import TokenChoice
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError
from bot.slack.forms import TokenForm, acted_from, acting_from, parse_token_form
from bot.slack.ids import COMMAND, Block, View
from bot.slack.listeners.commands import reply
from bot.slack.outcomes import outcome_of
from bot.slack.views.blocks import escape
from bot.slack.views.renew_token import (
    checking_token_modal,
    token_modal,
    token_note_modal,
    token_problems_modal,
    token_sent_modal,
    token_waiting_modal,
)
from bot.slack.visibility import not_shown
from bot.usecases.token_renewals import MAX_TOKEN_UPLOAD_BYTES, TOKEN_KINDS, TokenSubmission

if TYPE_CHECKING:
    from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

LOADING = ":hourglass_flowing_sand: Reading the token from Intune…"


def token_kind(word: str | None) -> CredentialKind | None:
    """``ade`` or ``vpp`` (any case) as a kind; None for anything else."""
    lowered = (word or "").lower()
    return next((k for k in TOKEN_KINDS if k.value == lowered), None)


def open_token_form(
    deps: SlackContext,
    trigger_id: str,
    tenant: TenantSettings,
    respond: Any,
    *,
    viewer: tuple[str, str | None],
    kind: CredentialKind,
    wanted: str | None,
) -> None:
    """Open the token form for ``viewer`` if they may see ``tenant`` (run on ``deps.modals``)."""
    user_id, channel_id = viewer
    if not deps.approvers.may_see(tenant, user_id, channel_id):
        if respond is not None:
            reply(respond, not_shown(tenant))
        return
    try:
        opened = deps.slack_trigger.views_open(
            trigger_id=trigger_id,
            view=acting_from(token_note_modal(tenant, kind, "", LOADING), channel_id).to_dict(),
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.error("views.open failed: %s", exc)
        if respond is not None:
            reply(respond, ":warning: The renewal form could not be opened; try again.")
        return
    view = opened.get("view") or {}
    deps.background.submit(
        fill_token_form,
        deps,
        str(view.get("id")),
        view.get("hash"),
        tenant,
        kind,
        wanted,
        channel=channel_id,
    )


def fill_token_form(
    deps: SlackContext,
    view_id: str,
    view_hash: str | None,
    tenant: TenantSettings,
    kind: CredentialKind,
    wanted: str | None,
    *,
    channel: str | None,
) -> None:
    """Choose the token (by id or name, or the only one) and show its form (``channel``: where
    it was opened from, kept for the submission's check)."""
    try:
        choice = deps.token_renewals.choose(tenant, kind, wanted)
        if choice.token is not None:
            view = token_modal(tenant, choice.token, deps.clock())
        else:
            view = token_note_modal(tenant, kind, "", _no_choice(choice, kind, wanted))
    except ApnsBotError as exc:
        text = f":warning: The tokens could not be read from Intune: {escape(exc.user_message)}"
        view = token_note_modal(tenant, kind, "", text)
    _update(deps, view_id, acting_from(view, channel), view_hash)


def _no_choice(choice: TokenChoice, kind: CredentialKind, wanted: str | None) -> str:
    names = ", ".join(f"*{escape(t.name or t.id)}*" for t in choice.candidates[:20])
    if choice.why == "none":
        return f"Intune has no {kind.label} for this tenant."
    if choice.why == "unknown":
        return (
            f"No {kind.label} is named *{escape(wanted or '')}*. The tenant has: {names}. "
            f"Run `{COMMAND} renew {kind.value} NAME` with one of them."
        )
    return (
        f"This tenant has several of them: {names}. Run `{COMMAND} renew {kind.value} NAME` "
        "with the one to renew."
    )


def refused_at_submit(
    deps: SlackContext,
    ack: Ack,
    tenant: TenantSettings,
    body: dict[str, Any],
    refusal: Callable[[str], ModalView],
) -> bool:
    """A form's submission asks again who may see ``tenant``, as its opening did (access may have
    been removed since): when not, the form becomes ``refusal(not_shown(tenant))`` and nothing
    else is done. True when refused."""
    view = body.get("view") or {}
    if deps.approvers.may_see(tenant, str(body["user"]["id"]), acted_from(view)):
        return False
    ack(response_action="update", view=refusal(not_shown(tenant)).to_dict())
    return True


def _update(
    deps: SlackContext, view_id: str, view: ModalView, view_hash: str | None = None
) -> None:
    try:
        deps.slack.views_update(view_id=view_id, hash=view_hash, view=view.to_dict())
    except SlackApiError as exc:  # hash_conflict: already submitted or closed
        log.info("views.update skipped: %s", exc.response.get("error"))
    except (SlackClientError, OSError) as exc:
        log.error("views.update failed: %s", type(exc).__name__)


def register(app: App, settings: Settings, deps: SlackContext) -> None:
    @app.view(View.RENEW_TOKEN)
    def handle_token_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, errors = parse_token_form(view)
        if form.file is not None and (form.file.size or 0) > MAX_TOKEN_UPLOAD_BYTES:
            errors[Block.TOKEN_FILE] = (
                "This file is far too large for a token (Apple's token files are a few KiB)."
            )
        if errors:
            ack(response_action="errors", errors=errors)
            return
        tenant = settings.tenants.get(form.tenant or "")
        kind = token_kind(form.kind)
        if tenant is None or kind is None or not form.token_id:  # never guess what to renew
            ack(
                response_action="errors",
                errors={
                    Block.TOKEN_FILE: f"This form is out of date; start again with {COMMAND} renew."
                },
            )
            return
        token_id = form.token_id
        if refused_at_submit(
            deps, ack, tenant, body, lambda no: token_note_modal(tenant, kind, token_id, no)
        ):
            return
        assert form.file is not None  # no errors means one file
        checking = checking_token_modal(tenant, kind, form.token_id, form.file.name)
        ack(response_action="update", view=checking.to_dict())
        deps.background.submit(
            check_and_submit, str(view["id"]), tenant, kind, body["user"]["id"], form
        )

    def check_and_submit(
        view_id: str, tenant: TenantSettings, kind: CredentialKind, user_id: str, form: TokenForm
    ) -> None:
        assert form.file is not None and form.token_id is not None
        file, token_id = form.file, form.token_id

        def check() -> ModalView:
            content = deps.files.download(file.url, limit=MAX_TOKEN_UPLOAD_BYTES)
            submission = deps.token_renewals.submit(
                tenant, user_id, kind, token_id, content, apple_id=form.apple_id, reason=form.reason
            )
            return submitted_token_modal(deps, tenant, kind, token_id, submission)

        def failed(sentence: str) -> ModalView:
            text = f":warning: {escape(sentence)} Nothing was sent for approval."
            return token_note_modal(tenant, kind, token_id, text)

        view = outcome_of(
            "checking the token file",
            check,
            refused=lambda exc: failed(exc.user_message),
            failed=failed,
        )
        _update(deps, view_id, view)


def submitted_token_modal(
    deps: SlackContext,
    tenant: TenantSettings,
    kind: CredentialKind,
    token_id: str,
    submission: TokenSubmission,
) -> ModalView:
    """What became of a submitted token file, for the person who submitted it."""
    if submission.waiting_for is not None:
        mentions = deps.approvers.mentions(tenant)
        return token_waiting_modal(tenant, kind, token_id, submission.waiting_for, mentions)
    inspection = submission.inspection
    if submission.request is None:
        problems = [(p.code, p.severity, p.message) for p in inspection.errors]
        problems += [(p.code, p.severity, p.message) for p in inspection.warnings]
        return token_problems_modal(tenant, kind, token_id, problems)
    if not submission.posted:
        return token_note_modal(
            tenant,
            kind,
            token_id,
            f":warning: The token passed the checks, but the approval message could not be posted "
            f"in <#{tenant.channel}>. Invite the bot to that channel (/invite @apns-bot) and try "
            "again. Nothing was sent for approval.",
        )
    return token_sent_modal(tenant, kind, token_id, [p.message for p in inspection.warnings])
