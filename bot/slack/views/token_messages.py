"""Messages about ADE and Apps and Books (VPP) tokens: reminders, problems, changes, failed reads.

Each names the kind, the token's name, its Apple ID or organisation, what breaks when it lapses
and the renewal steps in Apple Business Manager and Intune (docs/apple-tokens.md says the same).
Every word from Graph is escaped before it enters mrkdwn.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.config import TenantSettings
from bot.core.status import Urgency
from bot.core.token_watch import NoticeKind, TokenNotice
from bot.core.tokens import (
    AppleToken,
    CredentialKind,
    ReadError,
    TokenProblem,
    sync_failing_since,
)
from bot.slack.ids import Action
from bot.slack.views.blocks import (
    URGENCY_EMOJI,
    context,
    days_phrase,
    escape,
    fields,
    header,
    section,
    tenant_label,
)

ABM = "https://business.apple.com"
INTUNE = "https://intune.microsoft.com"

BREAKS = {
    CredentialKind.ADE: (
        "new iPhones, iPads and Macs can no longer enroll through Automated Device Enrollment "
        "and Intune stops syncing devices from Apple (enrolled devices keep working)"
    ),
    CredentialKind.VPP: (
        "app licences stop syncing and apps assigned through Apps and Books fail to install or "
        "update"
    ),
}


def renewal_steps(token: AppleToken) -> str:
    """The renewal round trip through Apple Business Manager and Intune (numbered mrkdwn)."""
    apple_id = f"*{escape(token.apple_id)}*" if token.apple_id else "the Apple ID that manages it"
    name = f"*{escape(token.name)}*" if token.name else "this token"
    if token.kind is CredentialKind.ADE:
        steps = [
            f"In the Intune admin center ({INTUNE}): *Devices → Enrollment → Apple → Enrollment "
            f"program tokens*, select {name}, choose *Renew token* and download the public key.",
            f"Sign in to Apple Business Manager ({ABM}) or School Manager as {apple_id}: "
            "*Preferences → your MDM server* (the one Intune uses) → upload the public key if "
            "asked → *Download Token* (a `.p7m` file).",
            "Back in Intune's *Renew token* pane, enter the same Apple ID, upload the `.p7m` and "
            "save; then press *Sync* on the token.",
        ]
    else:
        org = f" for *{escape(token.organization)}*" if token.organization else ""
        steps = [
            f"Sign in to Apple Business Manager ({ABM}) as {apple_id}: *Preferences → Payments "
            f"and Billing → Apps and Books*, and download the server token{org} (the same "
            "location: another one moves the licences away).",
            f"In the Intune admin center ({INTUNE}): *Tenant administration → Connectors and "
            f"tokens → Apple VPP tokens*, select {name}, *Edit*, upload the `.vpptoken` file "
            "and save.",
            "Press *Sync* on the token; Intune may show the new expiry only after the sync.",
        ]
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, start=1))


def _facts(token: AppleToken) -> list[tuple[str, str]]:
    pairs = [
        ("Token", escape(token.name) if token.name else "_unnamed_"),
        ("Apple ID", escape(token.apple_id) if token.apple_id else "_unknown_"),
        ("Expires", f"{token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "_unknown_"),
    ]
    if token.organization:
        pairs.append(("Organisation", escape(token.organization)))
    if token.state:
        pairs.append(("State", escape(token.state)))
    if token.last_sync:
        pairs.append(("Last sync", f"{token.last_sync:%Y-%m-%d %H:%M} UTC"))
    return pairs


def _named(token: AppleToken) -> str:
    return f"*{escape(token.name or token.id)}*"


def _summary(tenant: TenantSettings, notice: TokenNotice) -> tuple[str, str]:
    """(header, summary) for one notice."""
    token, kind = notice.token, notice.token.kind
    where = f"{_named(token)} ({kind.label}, *{tenant_label(tenant)}*)"
    emoji = URGENCY_EMOJI[notice.urgency]
    days = notice.days_left
    if notice.what is NoticeKind.REMINDER and notice.urgency is Urgency.EXPIRED:
        return f"{kind.label} EXPIRED", (
            f"{emoji} {where} *has expired*: {BREAKS[kind]}. Renew it as soon as you can."
            + (
                " This is the last reminder about it: if it was replaced, delete it in Intune."
                if notice.last
                else ""
            )
        )
    if notice.what is NoticeKind.REMINDER:
        left = days_phrase(days or 0)
        return f"Renew the {kind.label} — {left}", (
            f"{emoji} {where} expires soon ({left}). When it lapses, {BREAKS[kind]}."
        )
    if notice.what is NoticeKind.PROBLEM and notice.problem is TokenProblem.STATE:
        return f"{kind.label} needs attention", (
            f":warning: Intune reports {where} as `{escape(token.state or 'unknown')}`, not "
            f"valid: until it is, {BREAKS[kind]}. A new token from Apple Business Manager "
            "usually fixes it (steps below)."
        )
    if notice.what is NoticeKind.PROBLEM:
        started = sync_failing_since(token)
        since = f"{started:%Y-%m-%d %H:%M} UTC" if started else "an unknown time"
        return f"{kind.label}: sync failing", (
            f":warning: The sync of {where} with Apple has been failing since {since} "
            f"(error `{escape(token.sync_error or 'unknown')}`). If it goes on, {BREAKS[kind]}. "
            "Check the token in Intune; renewing it (steps below) fixes an expired or revoked one."
        )
    if notice.what is NoticeKind.APPEARED:
        return f"New {kind.label}", (
            f":new: {where} appeared in Intune (added outside apns-bot). I will remind before "
            "it expires."
        )
    if notice.what is NoticeKind.DISAPPEARED:
        return f"{kind.label} removed", (
            f":warning: {where} is no longer in Intune (removed outside apns-bot). If that was "
            f"not intended: {BREAKS[kind]}."
        )
    previous = notice.previous.expires_at if notice.previous else None
    before = f" (was {previous:%Y-%m-%d})" if previous else ""
    expiry = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "an unknown date"
    if notice.by_request is not None:
        return f"{kind.label} renewal in place", (
            f":white_check_mark: {where}, renewed by apns-bot (request `{notice.by_request}`), "
            f"now shows in Intune: it expires {expiry}{before}."
        )
    return f"{kind.label} renewed", (
        f":arrows_counterclockwise: {where} was renewed outside apns-bot: it now expires "
        f"{expiry}{before}." + _owner_warning(notice)
    )


def token_renewal_buttons(tenant: TenantSettings, token: AppleToken) -> ActionsBlock:
    """*Start renewal* (that token's form) and, ADE, *Get public key* (Intune's key in a DM)."""
    target = f"{tenant.name}|{token.kind.value}|{token.id}"
    buttons = [
        ButtonElement(
            text="Start renewal", action_id=Action.START_RENEWAL, value=target, style="primary"
        )
    ]
    if token.kind is CredentialKind.ADE:
        value = f"{tenant.name}|{token.id}"
        buttons.append(
            ButtonElement(text="Get public key", action_id=Action.GET_ADE_KEY, value=value)
        )
    return ActionsBlock(elements=buttons)


OWNER_FIELDS = {"organization": "organisation", "apple_id": "Apple ID"}
OWNER_RISK = {
    CredentialKind.VPP: (
        "A token of another organisation or location moves the app licences away from this "
        "one: apps assigned through Apps and Books may stop installing. Check that this is the "
        "token you meant to upload."
    ),
    CredentialKind.ADE: (
        "A token from another Apple Business Manager account or MDM server assigns other "
        "devices: check that this is the token you meant to upload."
    ),
}


def _owner_warning(notice: TokenNotice) -> str:
    """A renewal under another organisation or Apple ID, said before and after."""
    if not notice.owner_changed or notice.previous is None:
        return ""
    changes = "; ".join(
        f"{OWNER_FIELDS[field]} {escape(getattr(notice.previous, field) or 'unknown')} → "
        f"{escape(getattr(notice.token, field) or 'unknown')}"
        for field in notice.owner_changed
    )
    risk = OWNER_RISK.get(notice.token.kind, "")
    return f"\n:warning: *It changed hands* ({changes}). {risk}"


def token_notice_message(
    tenant: TenantSettings, notice: TokenNotice, mentions: str = ""
) -> tuple[str, list[Block]]:
    """One token notice (fallback text, blocks); urgent ones mention ``mentions``."""
    title, summary = _summary(tenant, notice)
    if notice.mention and mentions:
        summary += f"\n{mentions}"
    blocks: list[Block] = [header(title), section(summary), fields(_facts(notice.token))]
    renewable = notice.what in (NoticeKind.REMINDER, NoticeKind.PROBLEM)
    if renewable:
        blocks.append(section("*Renew it*\n" + renewal_steps(notice.token)))
        blocks.append(token_renewal_buttons(tenant, notice.token))
        blocks.append(
            context(
                "Or press *Start renewal* to upload the new file here: it is checked, approved "
                "and uploaded to Intune once."
            )
        )
    text = f"{title} ({tenant_label(tenant)}): {escape(notice.token.name or notice.token.id)}"
    if notice.mention and mentions:
        text += f" {mentions}"
    return text, blocks


def token_read_failed_message(
    tenant: TenantSettings, kind: CredentialKind, error: ReadError, since: datetime
) -> str:
    return (
        f":warning: I cannot read the {kind.label}s of {tenant_label(tenant)}: "
        f"{escape(error.message)} (`{escape(error.code)}`). Until I can, I cannot warn before "
        f"they expire. If this tenant does not use them, leave `{kind.value}` out of "
        f"APNS_WATCH (or `watch` in the tenants file). (Failing since "
        f"{since:%Y-%m-%d %H:%M} UTC.)"
    )
