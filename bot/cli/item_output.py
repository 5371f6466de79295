"""Watched items on a terminal: ``status``'s token keys and lines, ``check``'s line per item."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.items import WatchItem, expired_text
from bot.core.status import Urgency
from bot.core.tokens import AppleToken, CredentialKind, TokenRead

TOKEN_KEYS = (
    "id",
    "name",
    "apple_id",
    "expires_at",
    "days_left",
    "state",
    "last_sync",
    "sync_error",
)
TOKEN_KINDS = (CredentialKind.ADE, CredentialKind.VPP)
LABELS = {
    Urgency.OK: "OK",
    Urgency.RENEW_SOON: "RENEW",
    Urgency.CRITICAL: "CRITICAL",
    Urgency.EXPIRED: "EXPIRED",
    Urgency.LAPSED: "LAPSED",
    Urgency.MISSING: "MISSING",
}


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def token_document(token: AppleToken, now: datetime) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "apple_id": token.apple_id,
        "expires_at": iso(token.expires_at),
        "days_left": token.days_left(now),
        "state": token.state,
        "last_sync": iso(token.last_sync),
        "sync_error": token.sync_error,
    }


def tokens_keys(reads: Sequence[TokenRead], now: datetime) -> dict[str, Any]:
    """``ade_tokens``/``vpp_tokens`` (null when unread or not watched) and ``*_tokens_error``
    (``{"code", "message"}`` when the kind could not be read, else null)."""
    by_kind = {read.kind: read for read in reads}
    keys: dict[str, Any] = {}
    for kind in TOKEN_KINDS:
        read = by_kind.get(kind)
        ok = read is not None and read.error is None
        keys[f"{kind.value}_tokens"] = (
            [token_document(t, now) for t in read.tokens] if read is not None and ok else None
        )
        error = read.error if read is not None else None
        keys[f"{kind.value}_tokens_error"] = (
            {"code": error.code, "message": error.message} if error is not None else None
        )
    return keys


def _days(item: WatchItem) -> str:
    if item.days_left is None:
        return "no expiry known"
    if item.days_expired is not None:
        return expired_text(item.days_expired)
    days = item.days_left
    return "less than a day left" if days == 0 else f"{days} day{'s' * (days != 1)} left"


def item_text(item: WatchItem, tenant: str | None = None) -> str:
    """One item on one line. Status (no ``tenant``): ``RENEW    Automated Device Enrollment (ADE)
    token "Contoso ABM": 45 days left, expires …, Apple ID …``; ``apns-bot check`` (``tenant``
    first, for grep and cron mail): ``RENEW contoso ade "Contoso ABM": 45 days left, …``."""
    label = "FAILED" if item.urgency is None else LABELS[item.urgency]
    head = (
        f"{label:<8} {item.kind.label}" if tenant is None else f"{label} {tenant} {item.kind.value}"
    )
    if item.urgency is None:
        rest = f": {item.note or 'could not be read'}"
    else:
        rest = f' "{item.name}": {_days(item)}'
        if item.expires_at is not None:
            rest += f", expires {item.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if item.owner:
            rest += f", {'Apple ID ' if '@' in item.owner else ''}{item.owner}"
        if item.note:
            rest += f"; {item.note}"
    # one line whatever Graph's messages hold; the label's padding is kept
    return head + (" " if rest.startswith(" ") else "") + " ".join(rest.split())


def items_text(items: Sequence[WatchItem]) -> str:
    """The status's list of every watched item, worst first."""
    if not items:
        return "Watched items: none (nothing is watched, or no token exists)."
    return "\n".join(["Watched items, worst first:", *(f"  {item_text(i)}" for i in items)])
