"""The modals of an ADE or Apps and Books (VPP) token renewal, and the chooser ``/apns renew``
shows when the tenant has more than the push certificate (typed ``slack_sdk.models`` views)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    Block,
    EmailInputElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View as ModalView

from bot.config import TenantSettings
from bot.core.ade_token import MAX_TOKEN_FILE_BYTES
from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest
from bot.core.token_choice import by_urgency
from bot.core.tokens import AppleToken, CredentialKind
from bot.slack.ids import COMMAND, Input, View
from bot.slack.ids import Block as BlockId
from bot.slack.views.blocks import context, days_phrase, escape, section, slack_date, tenant_label
from bot.slack.views.renew import current_summary

TITLES = {CredentialKind.ADE: "Renew ADE token", CredentialKind.VPP: "Renew VPP token"}
PUSH = "push"


def token_value(token: AppleToken) -> str:
    """A chooser option's value (and *Start renewal*'s suffix): ``ade|<id>`` or ``vpp|<id>``."""
    return f"{token.kind.value}|{token.id}"


def _modal(
    blocks: Sequence[Block],
    tenant: TenantSettings,
    kind: CredentialKind,
    token_id: str,
    *,
    submit: str | None,
) -> ModalView:
    return ModalView(
        type="modal",
        callback_id=View.RENEW_TOKEN,
        title=TITLES[kind],
        submit=submit,
        close="Close" if submit is None else "Cancel",
        private_metadata=json.dumps({"tenant": tenant.name, "kind": kind.value, "token": token_id}),
        blocks=list(blocks),
    )


def _expiry(token: AppleToken, now: datetime) -> str:
    if token.expires_at is None:
        return "no expiry reported"
    days = token.days_left(now) or 0
    return f"expires {token.expires_at.astimezone(UTC):%Y-%m-%d} ({days_phrase(days)})"


def token_summary(token: AppleToken, now: datetime) -> str:
    name = escape(token.name or token.id)
    if token.kind is CredentialKind.VPP:
        return (
            f"*Apps and Books token {name}* — organisation {escape(token.organization or '?')}, "
            f"{_expiry(token, now)}.\nIn Apple Business Manager: *Preferences* → *Payments and "
            "Billing* → *Apps and Books* → *Download* the token of this organisation's location "
            "(a `.vpptoken` file) and upload it here unchanged."
        )
    return (
        f"*ADE token {name}* — Apple ID {escape(token.apple_id or '?')}, {_expiry(token, now)}.\n"
        f"1. `{COMMAND} ade-key {name}` sends Intune's public key; upload it to this MDM server "
        "in Apple Business Manager (*Preferences* → *Your MDM Servers* → *Edit*).\n"
        "2. *Download Token* there (a `…_smime.p7m` file) and upload it here unchanged."
    )


def token_modal(
    tenant: TenantSettings, token: AppleToken, now: datetime, note: str | None = None
) -> ModalView:
    """The form for one token: the file, the Apple ID (ADE) and a reason."""
    blocks: list[Block] = [section(token_summary(token, now))]
    if note:
        blocks.insert(0, context(note))
    if token.kind is CredentialKind.ADE:
        blocks.append(
            InputBlock(
                block_id=BlockId.APPLE_ID,
                label="Apple ID (Managed Apple Account) of the MDM server",
                element=EmailInputElement(
                    action_id=Input.VALUE,
                    placeholder="abm-admin@example.com",
                    initial_value=token.apple_id or None,
                ),
                hint="The account that manages this MDM server in Apple Business Manager.",
            )
        )
    label = "Server token (.p7m)" if token.kind is CredentialKind.ADE else "Token (.vpptoken)"
    blocks += [
        InputBlock(
            block_id=BlockId.TOKEN_FILE,
            label=f"{label} from Apple Business Manager",
            element=FileInputElement(action_id=Input.FILE, max_files=1),
            hint=f"At most {MAX_TOKEN_FILE_BYTES // 1024} KiB. Never a private key or .p12.",
        ),
        InputBlock(
            block_id=BlockId.REASON,
            label="Reason or ticket",
            optional=True,
            element=PlainTextInputElement(action_id=Input.VALUE, max_length=300),
        ),
    ]
    return _modal(blocks, tenant, token.kind, token.id, submit="Check and submit")


def token_note_modal(
    tenant: TenantSettings, kind: CredentialKind, token_id: str, text: str
) -> ModalView:
    """A modal that only says something (loading, a token that cannot be chosen, a failure)."""
    return _modal([section(text)], tenant, kind, token_id, submit=None)


def checking_token_modal(
    tenant: TenantSettings, kind: CredentialKind, token_id: str, name: str
) -> ModalView:
    text = (
        f":hourglass_flowing_sand: Checking *{escape(name)}* against the token in Intune… This "
        "takes a few seconds; keep this window open to see the result."
    )
    return token_note_modal(tenant, kind, token_id, text)


def token_problems_modal(
    tenant: TenantSettings,
    kind: CredentialKind,
    token_id: str,
    problems: Sequence[tuple[str, str, str]],
) -> ModalView:
    """``problems`` are (code, severity, message), errors first. Nothing was sent for approval."""
    blocks: list[Block] = [
        section(":no_entry: *This token file cannot be used.* Nothing was sent for approval."),
        *[
            section(f"{':no_entry:' if sev == 'error' else ':warning:'} *{escape(msg)}* `{code}`")
            for code, sev, msg in problems[:40]
        ],
        context(f"Fix the problems, then run `{COMMAND} renew {kind.value}` again."),
    ]
    return _modal(blocks, tenant, kind, token_id, submit=None)


def token_sent_modal(
    tenant: TenantSettings, kind: CredentialKind, token_id: str, warnings: Sequence[str]
) -> ModalView:
    blocks: list[Block] = [
        section(
            ":white_check_mark: The token passed the checks and was *sent for approval* in "
            f"<#{tenant.channel}>. You will see the result there."
        ),
        *[section(f":warning: {escape(w)}") for w in warnings[:20]],
    ]
    return _modal(blocks, tenant, kind, token_id, submit=None)


def token_waiting_modal(
    tenant: TenantSettings,
    kind: CredentialKind,
    token_id: str,
    other: ChangeRequest,
    approvers: str,
) -> ModalView:
    text = (
        f":no_entry: A renewal of this token is already waiting for approval: `{other.id}`, "
        f"requested by <@{other.requester}> {slack_date(other.created_at)}. An approver "
        f"({approvers or 'see APNS_APPROVERS'}) can reject it in <#{tenant.channel}>, or "
        f"<@{other.requester}> can withdraw it. Nothing was sent for approval."
    )
    return token_note_modal(tenant, kind, token_id, text)


# --- what to renew -------------------------------------------------------------------------------

MAX_TOKEN_OPTIONS = 9  # with the push certificate, Slack's limit of 10 radio buttons


def _option(value: str, text: str, description: str) -> Option:
    return Option(value=value, text=text[:75], description=description[:75])


def chooser_modal(
    tenant: TenantSettings,
    now: datetime,
    certificate: TenantCertificate | None,
    tokens: Sequence[AppleToken],
    preselected: str,
) -> ModalView:
    """What to renew: the push certificate or one of the tenant's tokens, ``preselected`` (the
    most urgent) chosen."""
    cert_expiry = (
        f"expires {certificate.expires_at:%Y-%m-%d}"
        if certificate is not None and certificate.expires_at is not None
        else "none in Intune yet"
    )
    options = [_option(PUSH, "Apple push certificate", cert_expiry)]
    ranked = by_urgency(tokens, now)  # Slack allows 10 radio buttons: the urgent ones first
    options += [
        _option(
            token_value(token),
            f"{'ADE' if token.kind is CredentialKind.ADE else 'VPP'}: {token.name or token.id}",
            _expiry(token, now),
        )
        for token in ranked[:MAX_TOKEN_OPTIONS]
    ]
    hidden = ranked[MAX_TOKEN_OPTIONS:]
    initial = next((o for o in options if o.value == preselected), options[0])
    blocks: list[Block] = [
        section(
            f"What do you want to renew for *{tenant_label(tenant)}*? The most urgent is chosen."
        ),
        context(current_summary(certificate, now)),
        InputBlock(
            block_id=BlockId.RENEW_WHAT,
            label="Renew",
            element=RadioButtonsElement(
                action_id=Input.VALUE, options=options, initial_option=initial
            ),
        ),
    ]
    if hidden:
        kinds = "|".join(sorted({t.kind.value for t in hidden}))
        blocks.append(
            context(f"{len(hidden)} more (expiring later): `{COMMAND} renew {kinds} NAME`.")
        )
    return ModalView(
        type="modal",
        callback_id=View.RENEW_CHOOSE,
        title="Renew",
        submit="Next",
        close="Cancel",
        private_metadata=json.dumps({"tenant": tenant.name}),
        blocks=blocks,
    )
