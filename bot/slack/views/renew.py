"""The renewal modal and the states it moves through (typed ``slack_sdk.models`` views)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    EmailInputElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View as ModalView

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest
from bot.slack.ids import COMMAND, Input, View
from bot.slack.ids import Block as BlockId
from bot.slack.views.blocks import (
    code,
    context,
    days_phrase,
    escape,
    section,
    slack_date,
    tenant_label,
)

TITLE = "Renew APNs certificate"
MAX_FILE_TYPES = ["pem", "cer", "crt"]


def _modal(blocks: Sequence[Block], tenant: TenantSettings, *, submit: str | None) -> ModalView:
    return ModalView(
        type="modal",
        callback_id=View.RENEW,
        title=TITLE[:24],
        submit=submit,
        close="Close" if submit is None else "Cancel",
        private_metadata=json.dumps({"tenant": tenant.name}),
        blocks=list(blocks),
    )


def current_summary(current: TenantCertificate | None, now: datetime) -> str:
    if current is None:
        return ":hourglass_flowing_sand: Reading the current certificate from Intune…"
    if not current.exists or current.expires_at is None:
        return "Intune has no push certificate yet: this upload will be the first one."
    days = current.days_left(now)
    return (
        f"*Current certificate:* Apple ID {escape(current.apple_id or '?')}, topic "
        f"{code(current.topic)}, expires {current.expires_at:%Y-%m-%d} "
        f"({days_phrase(days or 0)}).\nAt Apple, sign in with that Apple ID and press *Renew* next "
        f"to that topic — never *Create a Certificate*."
    )


def renew_modal(
    tenant: TenantSettings,
    now: datetime,
    current: TenantCertificate | None = None,
    note: str | None = None,
) -> ModalView:
    """The form; ``current`` is None while Graph is being read (then ``views.update`` fills it)."""
    apple_id = EmailInputElement(
        action_id=Input.VALUE,
        placeholder="apple-id@example.com",
        initial_value=current.apple_id if current is not None and current.apple_id else None,
    )
    blocks: list[Block] = [
        section(current_summary(current, now)),
        InputBlock(
            block_id=BlockId.APPLE_ID,
            label="Apple ID used at Apple's Push Certificates Portal",
            element=apple_id,
            hint="The same Apple ID that created the current certificate.",
        ),
        InputBlock(
            block_id=BlockId.CERTIFICATE,
            label="Renewed certificate from Apple (.pem)",
            element=FileInputElement(action_id=Input.FILE, filetypes=MAX_FILE_TYPES, max_files=1),
            hint=f"Get the CSR first with {COMMAND} csr. Never upload a private key or .p12.",
        ),
        InputBlock(
            block_id=BlockId.REASON,
            label="Reason or ticket",
            optional=True,
            element=PlainTextInputElement(action_id=Input.VALUE, max_length=300),
        ),
    ]
    if note:
        blocks.insert(0, context(note))
    return _modal(blocks, tenant, submit="Check and submit")


def checking_modal(tenant: TenantSettings, file_name: str) -> ModalView:
    text = (
        f":hourglass_flowing_sand: Checking *{escape(file_name)}* against the current certificate "
        "in Intune… This takes a few seconds; keep this window open to see the result."
    )
    return _modal([section(text)], tenant, submit=None)


def problems_modal(tenant: TenantSettings, problems: Sequence[tuple[str, str, str]]) -> ModalView:
    """``problems`` are (code, severity, message); errors first. Nothing was sent for approval."""
    lines = [
        f"{':no_entry:' if sev == 'error' else ':warning:'} *{escape(msg)}* `{code_}`"
        for code_, sev, msg in problems
    ]
    blocks: list[Block] = [
        section(":no_entry: *This certificate cannot be used.* Nothing was sent for approval."),
        *[section(line) for line in lines[:40]],
        context(f"Fix the problems, then run `{COMMAND} renew` again."),
    ]
    return _modal(blocks, tenant, submit=None)


def failed_modal(tenant: TenantSettings, message: str) -> ModalView:
    blocks: list[Block] = [
        section(f":warning: {escape(message)}"),
        context(f"Nothing was sent for approval. Run `{COMMAND} renew` to try again."),
    ]
    return _modal(blocks, tenant, submit=None)


def refused_modal(tenant: TenantSettings, refusal: str) -> ModalView:
    """The form replaced by why it cannot be used (``refusal`` is mrkdwn, already safe)."""
    return _modal([section(refusal)], tenant, submit=None)


def sent_modal(tenant: TenantSettings, channel: str, warnings: Sequence[str]) -> ModalView:
    blocks: list[Block] = [
        section(
            f":white_check_mark: The certificate passed the checks and was *sent for approval* "
            f"in <#{channel}>. You will see the result there."
        )
    ]
    blocks.extend(section(f":warning: {escape(w)}") for w in warnings[:20])
    return _modal(blocks, tenant, submit=None)


def waiting_modal(tenant: TenantSettings, other: ChangeRequest, approvers: str) -> ModalView:
    """Someone else's request is waiting: whose, and who can reject it. Nothing was sent."""
    text = (
        f":no_entry: A renewal of {tenant_label(tenant)} is already waiting for approval: "
        f"`{other.id}`, requested by <@{other.requester}> {slack_date(other.created_at)}. "
        f"It stays open: <@{other.requester}> can withdraw it, or an approver "
        f"({approvers or 'see APNS_APPROVERS'}) can reject it, with *Reject* on the request in "
        f"<#{tenant.channel}>. Then submit yours again."
    )
    blocks: list[Block] = [section(text), context("Nothing was sent for approval.")]
    return _modal(blocks, tenant, submit=None)
