"""Work on every tenant at once, on a bounded pool (the fleet read, the expiry watch).

One slow, throttled or failing tenant never delays the others: each tenant's work runs on its own
worker (with its own Graph retry budget), and the caller sees each outcome as it completes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TypeVar

from bot.config import TenantSettings

MAX_CONCURRENT_TENANTS = 64

T = TypeVar("T")


def per_tenant(
    tenants: Sequence[TenantSettings],
    work: Callable[[TenantSettings], T],
    *,
    max_workers: int = MAX_CONCURRENT_TENANTS,
    name: str,
) -> Iterator[tuple[TenantSettings, Future[T]]]:
    """``work(tenant)`` for every tenant on at most ``max_workers`` threads (named ``name``);
    yields each tenant with its finished future, in the order they finish."""
    if not tenants:
        return
    workers = max(1, min(max_workers, len(tenants)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = {pool.submit(work, tenant): tenant for tenant in tenants}
        for future in as_completed(futures):
            yield futures[future], future
