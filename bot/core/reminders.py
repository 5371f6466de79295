"""What the expiry watch should say, decided as values (pure: no I/O, time is a parameter).

Reminders. ``remind_days`` (sorted descending, e.g. 60, 30, 14, 7, 3, 1) are thresholds in days
before expiry. The due threshold is the smallest one the days left have reached, so a bot that was
down for a while posts the most urgent reminder once instead of a backlog. Once expired, a reminder
is due every day of Apple's 30-day grace period, then one last notice that the grace period is
over. Every reminder has a key made of the certificate's serial and expiry and the threshold; the
store marks a key once, ever, so each threshold is posted once per certificate and a renewed
certificate (new serial, new expiry) starts the count afresh. From 7 days on, reminders mention
the approvers.

Changes seen from outside. The watch compares the last certificate it saw with what Graph reports
now: renewed elsewhere (same topic, new serial or expiry), a changed topic (critical: every enrolled
device stops syncing), a removed certificate (critical), a first upload, or only the Apple ID.

Check state. What ``apns-bot check`` exits with: 0 while more days are left than the largest
threshold, 1 inside the window, expired or missing, 2 when the check itself failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import IntEnum, StrEnum

from bot.core.model import TenantCertificate, days_until
from bot.core.requests import ChangeRequest
from bot.core.status import GRACE_DAYS, Urgency, urgency

MENTION_FROM_DAYS = 7
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Reminder:
    """One reminder that is due now. ``threshold`` is ``"30"`` (days before expiry),
    ``"expired-3"`` (the fourth day after expiry) or ``"lapsed"`` (the grace period is over)."""

    key: str
    threshold: str
    urgency: Urgency
    days_left: int  # whole days, negative once expired (as ``TenantCertificate.days_left``)
    days_expired: int  # whole days since expiry; 0 before and on the day of expiry
    grace_days_left: int  # whole days of Apple's grace period left; 0 once lapsed
    mention: bool  # mention the approvers


def window_days(remind_days: Sequence[int]) -> int:
    """The reminder window: the largest threshold (0 with none configured)."""
    return max(remind_days, default=0)


def days_since_expiry(certificate: TenantCertificate, now: datetime) -> int:
    """Whole days since the certificate expired (0 before and during the first day)."""
    if certificate.expires_at is None or certificate.expires_at > now:
        return 0
    return int((now - certificate.expires_at).total_seconds() // SECONDS_PER_DAY)


def stamp(moment: datetime) -> str:
    """A compact UTC timestamp for keys, e.g. ``20271006T131128Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reminder_key(certificate: TenantCertificate, threshold: str) -> str:
    """``reminder:<serial>:<expiry>:<threshold>``; the store scopes it by tenant."""
    expiry = stamp(certificate.expires_at) if certificate.expires_at else "-"
    return f"reminder:{certificate.serial or '-'}:{expiry}:{threshold}"


def expired_day(certificate: TenantCertificate, now: datetime, zone: tzinfo) -> int:
    """Which day of the grace period ``now`` is, by calendar date in ``zone`` (the check's time
    zone). Daily checks run at a local wall-clock time, 23 or 25 hours apart across a clock
    change: counting 24-hour periods would give two checks the same day and skip an alarm."""
    if certificate.expires_at is None or certificate.expires_at > now:
        return 0
    return (now.astimezone(zone).date() - certificate.expires_at.astimezone(zone).date()).days


def due_reminder(
    certificate: TenantCertificate,
    now: datetime,
    remind_days: Sequence[int],
    zone: tzinfo = UTC,
) -> Reminder | None:
    """The reminder due for ``certificate`` at ``now``, or None (outside the window, no
    certificate). Whether it was already posted is the store's business, not this function's."""
    days = certificate.days_left(now)
    if not certificate.exists or days is None:
        return None
    state = urgency(certificate, now, window_days(remind_days))
    expired = days_since_expiry(certificate, now)
    if state is Urgency.LAPSED:
        threshold = "lapsed"
    elif state is Urgency.EXPIRED:
        threshold = f"expired-{expired_day(certificate, now, zone)}"
    else:
        reached = [t for t in remind_days if days <= t]
        if not reached:
            return None
        threshold = str(min(reached))
    return Reminder(
        key=reminder_key(certificate, threshold),
        threshold=threshold,
        urgency=state,
        days_left=days,
        days_expired=expired,
        grace_days_left=max(GRACE_DAYS - expired, 0) if state is Urgency.EXPIRED else 0,
        mention=days <= MENTION_FROM_DAYS,
    )


# --- changes made outside the bot ---------------------------------------------------------------


class ChangeKind(StrEnum):
    RENEWED = "renewed"  # same topic, later expiry: renewed in the Intune console or elsewhere
    REPLACED = "replaced"  # same topic, but the new certificate expires sooner than the old one
    TOPIC_CHANGED = "topic_changed"  # created anew or under another Apple ID: devices stop syncing
    REMOVED = "removed"  # no certificate any more
    ADDED = "added"  # a certificate appeared where there was none
    APPLE_ID_CHANGED = "apple_id_changed"  # only the Apple ID on record changed


CRITICAL_CHANGES = frozenset({ChangeKind.TOPIC_CHANGED, ChangeKind.REMOVED})
COMPARED_FIELDS = ("apple_id", "topic", "serial", "expires_at")


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    previous: TenantCertificate
    current: TenantCertificate
    fields: tuple[str, ...]  # which of COMPARED_FIELDS differ

    @property
    def critical(self) -> bool:
        return self.kind in CRITICAL_CHANGES

    @property
    def key(self) -> str:
        """Once-key of this change: the same transition is reported once, by one replica."""
        return f"change:{fingerprint(self.previous)}:{fingerprint(self.current)}"


def fingerprint(certificate: TenantCertificate) -> str:
    """A short, stable digest of the compared facts (not a secret; keeps keys short)."""
    expiry = stamp(certificate.expires_at) if certificate.expires_at else ""
    apple_id = (certificate.apple_id or "").casefold()
    facts = f"{apple_id}|{certificate.topic or ''}|{certificate.serial or ''}|{expiry}"
    return hashlib.sha256(facts.encode()).hexdigest()[:16]


def _differs(field: str, before: TenantCertificate, after: TenantCertificate) -> bool:
    if field == "apple_id":
        return (before.apple_id or "").casefold() != (after.apple_id or "").casefold()
    return bool(getattr(before, field) != getattr(after, field))


def detect_change(previous: TenantCertificate | None, current: TenantCertificate) -> Change | None:
    """What changed between the last certificate seen and ``current``; None on the first look
    (there is nothing to compare with) and when nothing that matters changed."""
    if previous is None or (not previous.exists and not current.exists):
        return None
    fields = tuple(f for f in COMPARED_FIELDS if _differs(f, previous, current))
    if previous.exists and not current.exists:
        return Change(ChangeKind.REMOVED, previous, current, fields)
    if not previous.exists:
        return Change(ChangeKind.ADDED, previous, current, fields)
    if not fields:
        return None
    if "topic" in fields:
        kind = ChangeKind.TOPIC_CHANGED
    elif "serial" in fields or "expires_at" in fields:
        sooner = (
            previous.expires_at is not None
            and current.expires_at is not None
            and current.expires_at < previous.expires_at
        )
        kind = ChangeKind.REPLACED if sooner else ChangeKind.RENEWED
    else:
        kind = ChangeKind.APPLE_ID_CHANGED
    return Change(kind, previous, current, fields)


class Origin(StrEnum):
    """Who made a change the watch sees."""

    OUTSIDE = "outside"  # someone else: report it
    BOT = "bot"  # the bot's own upload (its snapshot update was lost): the snapshot moves on
    STALE = "stale"  # a read from just before the bot's own upload landed: ignore it


def change_origin(change: Change, applied: Iterable[ChangeRequest]) -> Origin:
    """Tell the bot's own renewals (``applied`` requests, newest first) from outside changes."""
    for request in applied:
        if request.token is not None:  # an ADE or VPP token, not the push certificate
            continue
        uploaded = {request.serial} | ({request.result.serial} if request.result else set())
        if change.current.serial in uploaded:
            return Origin.BOT
        replaced = request.current.serial if request.current is not None else None
        if change.previous.serial in uploaded and change.current.serial == replaced:
            return Origin.STALE
    return Origin.OUTSIDE


# --- what a check means for cron and monitoring -------------------------------------------------


class CheckState(IntEnum):
    """The exit code of ``apns-bot check``."""

    OK = 0  # more days left than the largest reminder threshold
    ATTENTION = 1  # inside the reminder window, expired, or no certificate at all
    FAILED = 2  # the check itself failed (sign-in, permission, Graph unreachable)


def expiry_state(
    expires_at: datetime | None, now: datetime, remind_days: Sequence[int]
) -> CheckState:
    """The exit rule of every item, the certificate and each token alike: ``OK`` while more
    days are left than the largest reminder threshold, ``ATTENTION`` from then on, once
    expired, and when the expiry is unknown. (Urgency's CRITICAL, 7 days or fewer, is for
    people; it does not move the exit code when every threshold is under a week.)"""
    days = days_until(expires_at, now)
    if expires_at is None or days is None or expires_at <= now:
        return CheckState.ATTENTION
    return CheckState.ATTENTION if days <= window_days(remind_days) else CheckState.OK


def check_state(
    certificate: TenantCertificate, now: datetime, remind_days: Sequence[int]
) -> CheckState:
    if not certificate.exists:
        return CheckState.ATTENTION
    return expiry_state(certificate.expires_at, now, remind_days)
