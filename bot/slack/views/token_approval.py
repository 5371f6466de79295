"""The parts of the approval message and result notice that differ for an ADE or Apps and Books
(VPP) token request (``bot.slack.views.approval`` renders the rest, the same for every kind)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import TenantSettings
from bot.core.mrkdwn import escape_within
from bot.core.requests import ChangeRequest, TokenChange
from bot.core.tokens import CredentialKind
from bot.slack.views.blocks import code, escape, tenant_label

SYNC_NOTE = (
    "uploaded; Intune will show the new expiry after its next sync with Apple (the next daily "
    "check reads it again)"
)
CHECKS = {
    CredentialKind.VPP: "valid Apps and Books token, not expired, newer than the current one, same "
    "organisation, not used by another token",
    CredentialKind.ADE: "S/MIME server token, encrypted to Intune's current public key for this "
    "token, Apple ID",
}


def _change(request: ChangeRequest) -> TokenChange:
    if request.token is None:
        raise ValueError("not a token request")
    return request.token


def what_is(request: ChangeRequest) -> str:
    """``ADE token 'Contoso DEP'``: the kind and the token, for sentences (escaped)."""
    change = _change(request)
    kind = "ADE token" if change.kind is CredentialKind.ADE else "Apps and Books (VPP) token"
    return f"{kind} '{escape(change.label)}'"


def title(request: ChangeRequest) -> str:
    change = _change(request)
    return "ADE token renewal" if change.kind is CredentialKind.ADE else "VPP token renewal"


def _day(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d}" if moment is not None else "—"


def token_fields(request: ChangeRequest) -> list[tuple[str, str]]:
    """Kind, token, organisation or Apple ID, and current → new expiry."""
    change = _change(request)
    pairs = [
        ("Kind", change.kind.label),
        ("Token", f"{escape(change.label)} ({code(change.token_id)})"),
    ]
    if change.kind is CredentialKind.VPP:
        pairs.append(("Organisation", escape(change.organization or "?")))
        pairs.append(("Expiry", f"{_day(change.current_expiry)} → *{_day(change.new_expiry)}*"))
    else:
        known = change.current_apple_id or ""
        typed = request.apple_id
        apple_id = (
            f":warning: *changed* from {escape(known)} to {escape(typed)}"
            if known and known.casefold() != typed.casefold()
            else f"{escape(typed)} (unchanged)"
        )
        pairs.append(("Apple ID", apple_id))
        pairs.append(
            (
                "Expiry",
                f"{_day(change.current_expiry)} → known once Intune opened the token",
            )
        )
    return pairs


def checks_line(request: ChangeRequest) -> str:
    return f":white_check_mark: Checks passed: {CHECKS[_change(request).kind]}."


def confirm_text(request: ChangeRequest) -> str:
    """The Approve button's confirmation (within Slack's 300 characters)."""
    change = _change(request)
    extra = (
        f" with Apple ID {escape_within(request.apple_id, 120)}"
        if change.kind is CredentialKind.ADE
        else ""
    )
    return f"Approving sends this token file to Intune{extra}, replacing '{escape_within(change.label, 80)}'."


def applied_line(request: ChangeRequest, approvers: str) -> str:
    result = request.result
    if result is not None and result.expiry is not None:
        return (
            f":white_check_mark: *Renewed.* Approved by {approvers}; Intune now reports expiry "
            f"{result.expiry.astimezone(UTC):%Y-%m-%d %H:%M} UTC."
        )
    return f":white_check_mark: *Renewed* (approved by {approvers}): {SYNC_NOTE}."


def token_renewed_notice(
    request: ChangeRequest, tenant: TenantSettings, expiry: datetime | None, now: datetime
) -> str:
    """The result in the channel: the new expiry, or that Intune has not shown it yet."""
    what = what_is(request)
    if expiry is None:
        return f":white_check_mark: {what} ({tenant_label(tenant)}) {SYNC_NOTE}."
    days = int((expiry - now).total_seconds() // 86400)
    return (
        f":white_check_mark: {what} renewed ({tenant_label(tenant)}) — expires "
        f"{expiry.astimezone(UTC):%Y-%m-%d} ({days} days)"
    )
