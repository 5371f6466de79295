"""How urgent a certificate's state is, as a value (pure; time is a parameter)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from bot.core.model import TenantCertificate

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
    days = certificate.days_left(now)
    if days is None or not certificate.exists:
        return Urgency.MISSING
    if certificate.expires_at is not None and certificate.expires_at <= now:
        return Urgency.LAPSED if days < -GRACE_DAYS else Urgency.EXPIRED
    if days <= 7:
        return Urgency.CRITICAL
    if days <= window_days:
        return Urgency.RENEW_SOON
    return Urgency.OK
