"""The approval message in the channel: one view of a change request, rendered by its status.

The store holds the state; this message is re-rendered from it after every change (approval,
decision, result), so nothing is ever parsed back out of message text. Buttons carry only the
request id.
"""

from __future__ import annotations

import json
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View as ModalView

from bot.config import TenantSettings
from bot.core.mrkdwn import escape_within
from bot.core.requests import ChangeRequest, Status
from bot.core.signin import SignInWait
from bot.core.token_requests import needs_resubmission
from bot.slack.ids import COMMAND, Action, Input, View
from bot.slack.ids import Block as BlockId
from bot.slack.views import token_approval
from bot.slack.views.blocks import (
    code,
    context,
    escape,
    fields,
    header,
    section,
    slack_date,
    tenant_label,
)
from bot.usecases.signin_messages import failure_mrkdwn


def _who(users: tuple[str, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in users) or "nobody yet"


def _change_fields(request: ChangeRequest) -> list[tuple[str, str]]:
    current = request.current
    if request.is_first_upload or current is None:
        apple_id = f"{escape(request.apple_id)} (first upload)"
        topic = f"{code(request.topic)} (first upload)"
        expiry = f"— → {request.not_after:%Y-%m-%d}"
    else:
        apple_id = (
            f":warning: *changed* from {escape(current.apple_id or '?')} to "
            f"{escape(request.apple_id)}"
            if request.apple_id_changed
            else f"{escape(request.apple_id)} (unchanged)"
        )
        topic = (
            f":rotating_light: *CHANGED* from {code(current.topic)} to {code(request.topic)}"
            if request.topic_changed
            else f"{code(request.topic)} (unchanged)"
        )
        old = f"{current.expires_at:%Y-%m-%d}" if current.expires_at else "—"
        expiry = f"{old} → *{request.not_after:%Y-%m-%d}*"
    return [
        ("Apple ID", apple_id),
        ("Topic", topic),
        ("Expiry", expiry),
        ("Serial", code(request.serial)),
    ]


def _decision_buttons(request: ChangeRequest) -> ActionsBlock:
    return ActionsBlock(
        block_id="decision",
        elements=[
            ButtonElement(
                text="Approve",
                action_id=Action.APPROVE,
                value=request.id,
                style="primary",
                confirm=ConfirmObject(
                    title="Upload to Intune?",
                    text=(
                        f"Approving sends this certificate (serial {request.serial}) to Intune "
                        f"with Apple ID {escape_within(request.apple_id, 160)}."
                        if request.token is None
                        else token_approval.confirm_text(request)
                    ),  # within Slack's 300 characters for a confirm dialog's text
                    confirm="Approve",
                    deny="Back",
                ),
            ),
            ButtonElement(text="Reject", action_id=Action.REJECT, value=request.id, style="danger"),
        ],
    )


def _waiting_line(waiting: SignInWait) -> str:
    return (
        f":key: Waiting for <@{waiting.user_id}> to sign in to Microsoft (they have the code, valid "
        f"until {slack_date(waiting.expires_at)}); the upload follows as them."
    )


def _outcome(
    request: ChangeRequest, ttl_hours: int, waiting: SignInWait | None = None
) -> list[Block]:
    approvers = _who(request.approvers)
    if request.status is Status.APPROVED and waiting is not None:
        return [section(f"Approved by {approvers}. {_waiting_line(waiting)}")]
    if request.status is Status.APPROVED or request.status is Status.APPLYING:
        return [section(f":gear: Approved by {approvers}. Uploading to Intune…")]
    if request.status is Status.APPLIED and request.token is not None:
        return [section(token_approval.applied_line(request, approvers))]
    if request.status is Status.APPLIED:
        result = request.result
        expiry = result.expiry if result and result.expiry else request.not_after
        return [
            section(
                f":white_check_mark: *Renewed.* Approved by {approvers}; Intune now reports "
                f"expiry {expiry:%Y-%m-%d %H:%M} UTC, serial {code(result.serial if result else None)}."
            )
        ]
    if request.status is Status.FAILED:
        failure = request.failure
        detail = (
            f"`{failure.code}`: {failure_mrkdwn(failure)}"
            + (f" (request-id `{failure.request_id}`)" if failure.request_id else "")
            if failure
            else "unknown error"
        )
        signin = failure is not None and failure.code.startswith("signin_")
        headline = (
            f":x: *Not uploaded* (approved by {approvers}): {failure_mrkdwn(failure)}"
            if failure is not None and signin
            else f":x: *Upload to Intune failed* after approval by {approvers}: {detail}"
        )
        if waiting is not None:
            return [section(headline), context(_waiting_line(waiting))]
        if needs_resubmission(request):
            return [section(headline), context("Not retried: submit the file again.")]
        return [
            section(headline),
            ActionsBlock(
                block_id="retry",
                elements=[
                    ButtonElement(
                        text="Sign in and upload" if signin else "Retry upload",
                        action_id=Action.RETRY,
                        value=request.id,
                        style="primary",
                        confirm=ConfirmObject(
                            title="Retry the upload?",
                            text="The bot reads Intune first and uploads only if still needed.",
                            confirm="Retry",
                            deny="Back",
                        ),
                    )
                ],
            ),
        ]
    if request.status is Status.REJECTED or request.status is Status.CANCELLED:
        rejection = request.rejection
        by = f"<@{rejection.by}>" if rejection else "someone"
        why = f": {escape(rejection.reason)}" if rejection and rejection.reason else ""
        verb = "Rejected" if request.status is Status.REJECTED else "Cancelled"
        return [section(f":no_entry: *{verb}* by {by}{why}")]
    if request.status is Status.EXPIRED:
        return [
            section(
                f":hourglass: *Expired* — not approved within {ttl_hours} hours. "
                f"Start again with `{COMMAND} renew`."
            )
        ]
    return []


def request_message(
    request: ChangeRequest,
    tenant: TenantSettings,
    *,
    required: int,
    ttl_hours: int,
    mentions: str = "",
    waiting: SignInWait | None = None,
) -> tuple[str, list[Block]]:
    """The approval message for ``request`` in its current status (fallback text, blocks)."""
    what = "APNs certificate renewal" if request.token is None else token_approval.title(request)
    title = f"{what} — {tenant.label}"
    intro = f"Requested by <@{request.requester}>"
    if request.reason:
        intro += f" — _{escape(request.reason)}_"
    blocks: list[Block] = [
        header(title[:150]),
        section(intro),
        fields(
            _change_fields(request)
            if request.token is None
            else token_approval.token_fields(request)
        ),
        context(f"SHA-256 {request.sha256}"),
    ]
    if request.token is not None:
        blocks.append(context(token_approval.checks_line(request)))
    if request.topic_changed:
        blocks.append(
            section(
                ":rotating_light: *The topic changes.* This certificate was created anew or under "
                "another Apple ID: every enrolled Apple device would stop syncing until re-enrolled."
            )
        )
    blocks.extend(
        section(f":warning: {escape(w.message)} `{w.code}`") for w in request.warnings[:10]
    )
    if request.status is Status.PENDING:
        have = len(request.approvals)
        progress = f"Approvals: {have} of {required}" + (
            f" ({_who(request.approvers)})" if have else ""
        )
        blocks.append(
            context(
                f"{progress}. Requests expire {slack_date(request.expires_at)} "
                f"({ttl_hours} h). Approvers: {mentions or 'see APNS_APPROVERS'}."
            )
        )
        blocks.append(_decision_buttons(request))
        text = f"Approval needed: {what} requested by <@{request.requester}>"
    else:
        blocks.extend(_outcome(request, ttl_hours, waiting))
        text = f"{what} ({tenant_label(tenant)}): {request.status.value}"
    return text, blocks


def renewed_notice(tenant: TenantSettings, expiry: datetime, now: datetime) -> str:
    days = int((expiry - now).total_seconds() // 86400)
    return (
        f":white_check_mark: APNs certificate renewed ({tenant_label(tenant)}) — expires "
        f"{expiry:%Y-%m-%d} ({days} days)"
    )


def reject_modal(request_id: str) -> ModalView:
    """Asks the approver why; the request id rides in ``private_metadata``."""
    return ModalView(
        type="modal",
        callback_id=View.REJECT_REASON,
        title="Reject renewal",
        submit="Reject",
        close="Back",
        private_metadata=json.dumps({"request_id": request_id}),
        blocks=[
            InputBlock(
                block_id=BlockId.REJECT_REASON,
                label="Why? The requester sees this in the channel.",
                element=PlainTextInputElement(
                    action_id=Input.VALUE, multiline=True, max_length=500
                ),
            )
        ],
    )
