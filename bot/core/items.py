"""Every watched credential of a tenant as one list, worst first (pure; time is a parameter).

An item is the push certificate, one ADE or VPP token, or a kind that could not be read. Status
views, ``apns-bot check`` and the fleet table all show items, so they rank them one way:
unreadable first (nobody knows their state), then by ``bot.core.fleet.PRIORITY``, then by days left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.fleet import PRIORITY, FleetRow, failed_row
from bot.core.model import TenantCertificate, days_since
from bot.core.status import Urgency, urgency
from bot.core.tokens import (
    AppleToken,
    CredentialKind,
    TokenProblem,
    TokenRead,
    sync_failing_since,
    token_problem,
    token_urgency,
)

STATE_TEXT = "Intune reports the token as {state}"
SYNC_TEXT = "sync with Apple failing since {since}"


@dataclass(frozen=True)
class WatchItem:
    kind: CredentialKind
    name: str  # the token's name, or "push certificate"
    urgency: Urgency | None  # None: the kind could not be read
    days_left: int | None = None
    expires_at: datetime | None = None
    owner: str | None = None  # Apple ID, else organisation
    note: str | None = None  # a token's problem, or why the kind could not be read
    days_expired: int | None = None  # whole days since expiry (0 on the first day); None: not
    token: AppleToken | None = None
    certificate: TenantCertificate | None = None

    @property
    def unreadable(self) -> bool:
        return self.urgency is None


def expired_text(days: int) -> str:
    """An expiry ``days`` whole days ago, as the certificate has always said it: "expired
    today" for the first 24 hours (``days_left`` is already -1 then: it rounds down)."""
    return "expired today" if days == 0 else f"expired {days} day{'s' * (days != 1)} ago"


def push_item(certificate: TenantCertificate, now: datetime, window: int) -> WatchItem:
    present = certificate.exists
    return WatchItem(
        kind=CredentialKind.PUSH,
        name="push certificate",
        urgency=urgency(certificate, now, window),
        days_left=certificate.days_left(now) if present else None,
        expires_at=certificate.expires_at if present else None,
        owner=certificate.apple_id,
        days_expired=days_since(certificate.expires_at, now) if present else None,
        certificate=certificate,
    )


def sync_note(token: AppleToken, now: datetime) -> str | None:
    """A failing sync, shown as failing whether or not it counts as a problem yet: since when
    (ADE's last success; VPP's first sighting by a check), "first seen now" for a VPP failure
    this very read timed first, or that the start is not known (a read without the store)."""
    if token.sync_error is None:
        return None
    started = sync_failing_since(token)
    if started is None and token.kind is CredentialKind.ADE:
        return SYNC_TEXT.format(since="an unknown date")  # never synced: a problem already
    if started is None:
        return "sync with Apple failing (start not known)"
    if started == now:
        return "sync with Apple failing (first seen now)"
    return SYNC_TEXT.format(since=f"{started:%Y-%m-%d}")


def token_item(token: AppleToken, now: datetime, window: int) -> WatchItem:
    notes = []
    if token_problem(token, now) is TokenProblem.STATE:
        notes.append(STATE_TEXT.format(state=token.state))
    failing = sync_note(token, now)
    if failing is not None:
        notes.append(failing)
    note = "; ".join(notes) or None
    return WatchItem(
        kind=token.kind,
        name=token.name or token.id or "unnamed token",
        urgency=token_urgency(token, now, window),
        days_left=token.days_left(now),
        expires_at=token.expires_at,
        owner=token.apple_id or token.organization,
        note=note,
        token=token,
        days_expired=days_since(token.expires_at, now),
    )


def unread_item(kind: CredentialKind, why: str) -> WatchItem:
    return WatchItem(kind=kind, name=kind.label, urgency=None, note=why)


def tenant_items(
    certificate: TenantCertificate | None,
    certificate_error: str | None,
    reads: Iterable[TokenRead],
    now: datetime,
    window: Callable[[CredentialKind], int],
    *,
    push: bool = True,
) -> list[WatchItem]:
    """Every watched item, worst first; ``push`` False: the push certificate is not watched."""
    items: list[WatchItem] = []
    if push and certificate is not None:
        items.append(push_item(certificate, now, window(CredentialKind.PUSH)))
    elif push:
        items.append(unread_item(CredentialKind.PUSH, certificate_error or "not read"))
    for read in reads:
        if read.error is not None:
            items.append(unread_item(read.kind, read.error.message))
            continue
        items += [token_item(token, now, window(read.kind)) for token in read.tokens]
    return sort_items(items)


def sort_items(items: Iterable[WatchItem]) -> list[WatchItem]:
    def key(item: WatchItem) -> tuple[int, float, str]:
        if item.urgency is None:
            return (-1, 0.0, item.kind.value)
        days = float(item.days_left) if item.days_left is not None else float("inf")
        return (PRIORITY.index(item.urgency), days, item.kind.value + item.name)

    return sorted(items, key=key)


def worst_item(items: Iterable[WatchItem]) -> WatchItem | None:
    """The most urgent readable item (``None`` when there is none)."""
    readable = [i for i in items if i.urgency is not None]
    return sort_items(readable)[0] if readable else None


def fleet_row_of(
    tenant: str,
    label: str,
    certificate: TenantCertificate | None,
    items: list[WatchItem],
) -> FleetRow:
    """A tenant's fleet row: its most urgent readable item (its kind and name), the certificate
    as read, and the kinds that could not be read. Failed when nothing could be read, or when
    the push certificate is watched and could not be (``items`` holds its unread item); such a
    row still names the worst token that was read, beside the error."""
    unread = tuple(i for i in items if i.unreadable)
    push_failed = next((i for i in unread if i.kind is CredentialKind.PUSH), None)
    worst = worst_item(items)
    kinds = tuple(i.kind for i in unread if i.kind is not CredentialKind.PUSH)
    if push_failed is not None or (worst is None and unread):
        why = push_failed or unread[0]
        row = failed_row(tenant, label, why.note or "could not be read")
        if worst is None:
            return row
        return replace(
            row,
            days_left=worst.days_left,
            kind=worst.kind,
            name=worst.name,
            expires_at=worst.expires_at,
            unread=kinds,
            owner=worst.owner,
        )
    if worst is None:  # nothing watched here exists (e.g. only ADE watched, no ADE token)
        return FleetRow(tenant, label, certificate, Urgency.OK, None, kind=None, unread=kinds)
    return FleetRow(
        tenant,
        label,
        certificate,
        worst.urgency,
        worst.days_left,
        kind=worst.kind,
        name=worst.name,
        expires_at=worst.expires_at,
        unread=kinds,
        owner=worst.owner if worst.kind is not CredentialKind.PUSH else None,
    )
