"""How urgent a certificate's state is, as a value (pure; time is a parameter)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.core.model import TenantCertificate, days_until

GRACE_DAYS = 30


class Urgency(StrEnum):
    """Ordered from calm to worst; ``rank`` sorts a fleet by urgency."""

    OK = "ok"
    RENEW_SOON = "renew_soon"  # inside the reminder window
    CRITICAL = "critical"  # 7 days or fewer
    EXPIRED = "expired"  # in Apple's 30-day grace period
    LAPSED = "lapsed"  # past the grace period: devices must re-enroll
    MISSING = "missing"  # no certificate uploaded

    @property
    def rank(self) -> int:
        return list(Urgency).index(self)


def urgency(certificate: TenantCertificate, now: datetime, window_days: int = 60) -> Urgency:
    if not certificate.exists:
        return Urgency.MISSING
    return expiry_urgency(certificate.expires_at, now, window_days, grace_days=GRACE_DAYS)


def expiry_urgency(
    expires_at: datetime | None, now: datetime, window_days: int = 60, *, grace_days: int | None
) -> Urgency:
    """Urgency from an expiry alone; past ``grace_days`` after expiry it is ``LAPSED`` (never,
    with ``None``: a credential that can be renewed however late stays ``EXPIRED``)."""
    days = days_until(expires_at, now)
    if expires_at is None or days is None:
        return Urgency.MISSING
    if expires_at <= now:
        lapsed = grace_days is not None and days < -grace_days
        return Urgency.LAPSED if lapsed else Urgency.EXPIRED
    if days <= 7:
        return Urgency.CRITICAL
    if days <= window_days:
        return Urgency.RENEW_SOON
    return Urgency.OK
