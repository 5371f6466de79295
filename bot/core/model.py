"""Plain values shared by the core, the adapters and the Slack layer. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TenantCertificate:
    """The tenant's Apple push certificate as Microsoft Graph reports it.

    ``expires_at`` is ``None`` when the tenant has never had a certificate uploaded.
    """

    apple_id: str | None
    topic: str | None
    serial: str | None
    expires_at: datetime | None
    upload_status: str | None = None
    upload_failure_reason: str | None = None
    last_modified: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.expires_at is not None and bool(self.topic)

    def days_left(self, now: datetime) -> int | None:
        """Whole days until expiry (negative once expired); ``None`` with no certificate."""
        return days_until(self.expires_at, now)


def days_since(moment: datetime | None, now: datetime) -> int | None:
    """Whole days since ``moment`` once it has passed (0 during the first day, floored);
    ``None`` while it is ahead or unknown."""
    if moment is None or moment > now:
        return None
    return int((now - moment).total_seconds() // 86400)


def days_until(moment: datetime | None, now: datetime) -> int | None:
    """Whole days from ``now`` to ``moment`` (floored, so negative once past); ``None`` unknown."""
    if moment is None:
        return None
    return int((moment - now).total_seconds() // 86400)
