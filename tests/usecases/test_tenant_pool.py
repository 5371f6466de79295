"""The bounded per-tenant pool: every tenant once, never more threads than asked for."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from bot.usecases.tenant_pool import per_tenant
from tests.usecases.fakes import TENANT

TENANTS = [replace(TENANT, name=f"t{n}") for n in range(12)]


def test_every_tenant_runs_once_on_at_most_max_workers_threads() -> None:
    threads: set[str] = set()

    def work(tenant: object) -> str:
        threads.add(threading.current_thread().name)
        return str(getattr(tenant, "name", ""))

    done = {t.name: f.result() for t, f in per_tenant(TENANTS, work, max_workers=3, name="pool")}
    assert done == {t.name: t.name for t in TENANTS}
    assert 1 <= len(threads) <= 3 and all(name.startswith("pool") for name in threads)


def test_a_failing_tenant_leaves_its_exception_in_its_future() -> None:
    def work(tenant: object) -> int:
        if getattr(tenant, "name", "") == "t3":
            raise RuntimeError("boom")
        return 1

    futures = dict(per_tenant(TENANTS, work, max_workers=4, name="pool"))
    failed = [t.name for t, f in futures.items() if f.exception() is not None]
    assert failed == ["t3"] and len(futures) == len(TENANTS)


def test_no_tenant_no_thread() -> None:
    assert list(per_tenant([], pytest.fail, name="pool")) == []
