"""Many tenants at a glance: one row per tenant, sorted by urgency (pure; time is a parameter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.model import TenantCertificate
from bot.core.status import Urgency
from bot.core.tokens import CredentialKind


@dataclass(frozen=True)
class FleetRow:
    tenant: str  # short name
    label: str
    certificate: TenantCertificate | None  # None when the check failed
    state: Urgency | None  # None when the check failed
    days_left: int | None
    error: str | None = None  # user-safe reason the tenant could not be read
    # the most urgent watched item, whose state and days left the row shows (the certificate,
    # or an ADE or VPP token); ``unread``: token kinds that could not be read
    kind: CredentialKind | None = None  # None: failed with nothing read, or nothing exists
    name: str | None = None
    expires_at: datetime | None = None
    unread: tuple[CredentialKind, ...] = ()
    owner: str | None = None  # the most urgent token's Apple ID or organisation

    @property
    def failed(self) -> bool:
        return self.error is not None


def failed_row(tenant: str, label: str, error: str) -> FleetRow:
    return FleetRow(tenant, label, None, None, None, error)


# What needs a person first: a certificate in its grace period can still be saved today; one past
# it has already cost the devices; a tenant with no certificate may not manage Apple devices.
PRIORITY = (
    Urgency.EXPIRED,
    Urgency.LAPSED,
    Urgency.CRITICAL,
    Urgency.RENEW_SOON,
    Urgency.MISSING,
    Urgency.OK,
)


def sort_by_urgency(rows: list[FleetRow]) -> list[FleetRow]:
    """Failed checks first (nobody knows their state), then by ``PRIORITY``, then days left."""

    def key(row: FleetRow) -> tuple[int, float, str]:
        if row.failed or row.state is None:
            return (-1, 0.0, row.tenant)
        days = float(row.days_left) if row.days_left is not None else float("inf")
        return (PRIORITY.index(row.state), days, row.tenant)

    return sorted(rows, key=key)
