"""Read every tenant's watched items concurrently, with a bounded pool (``bot.usecases.tenant_pool``).

One slow, throttled or failing tenant never delays or hides the others: each tenant's Graph calls
run on their own worker with their own retry budget, and a failure becomes that tenant's row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from bot.config import Settings, TenantSettings
from bot.core.fleet import FleetRow, failed_row, sort_by_urgency
from bot.core.items import WatchItem, fleet_row_of, tenant_items
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError
from bot.usecases.ports import Graphs
from bot.usecases.tenant_pool import MAX_CONCURRENT_TENANTS, per_tenant
from bot.usecases.token_watch import TenantRead, read_tenant

log = logging.getLogger(__name__)


def read_fleet(
    settings: Settings,
    graph: Graphs,
    clock: Callable[[], datetime],
    *,
    max_workers: int = MAX_CONCURRENT_TENANTS,
    on_row: Callable[[FleetRow], None] | None = None,
    tenants: Iterable[TenantSettings] | None = None,
) -> list[FleetRow]:
    """Every tenant's row (or only ``tenants``'), sorted by urgency; ``on_row`` sees each as it
    completes."""
    tenants = list(settings.tenants.values() if tenants is None else tenants)

    def read(tenant: TenantSettings) -> FleetRow:
        try:
            found = read_tenant(graph(tenant), tenant)
        except ApnsBotError as exc:
            log.warning("tenant %s: %s", tenant.name, exc.user_message)
            return failed_row(tenant.name, tenant.label, exc.user_message)
        if found.error is not None:
            log.warning("tenant %s: %s", tenant.name, found.error.user_message)
        error = found.error.user_message if found.error is not None else None
        return fleet_row_of(
            tenant.name, tenant.label, found.certificate, items_of(tenant, found, error, clock())
        )

    rows: list[FleetRow] = []
    for _, future in per_tenant(tenants, read, max_workers=max_workers, name="apns-fleet"):
        row = future.result()
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return sort_by_urgency(rows)


def items_of(
    tenant: TenantSettings, found: TenantRead, error: str | None, now: datetime
) -> list[WatchItem]:
    """Every watched item of one read, worst first (``error``: why the certificate was not read)."""
    return tenant_items(
        found.certificate,
        error,
        found.tokens,
        now,
        tenant.window_for,
        push=tenant.watches(CredentialKind.PUSH),
    )
