"""The daily check shared by replicas: one runs each day's check, and a replica that died during
one does not hold back the next (on every backend)."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.daily_check import DailyCheck, claim_in
from tests.adapters.store.conftest import Backend
from tests.clock import MovableClock


def test_each_day_s_check_is_run_by_one_replica_and_a_dead_one_blocks_no_later_day(
    backend: Backend,
) -> None:
    clock = MovableClock()
    zone = ZoneInfo("Europe/Berlin")
    runs: list[str] = []
    with backend.open() as one, backend.open() as two:
        replicas = {
            name: DailyCheck(
                lambda n=name: runs.append(n), time(9), zone, clock, claim_in(s, clock)
            )
            for name, s in (("one", one), ("two", two))
        }
        for day in range(3):
            clock.set(replicas["one"].next_run + timedelta(seconds=1))
            ran = [check.tick() for check in replicas.values()]
            assert ran.count(True) == 1, day
            assert [check.tick() for check in replicas.values()] == [False, False]
        assert len(runs) == 3

        def dies(_: object = None) -> None:
            raise RuntimeError("killed mid-check")

        crashing = DailyCheck(dies, time(9), zone, clock, claim_in(one, clock))
        clock.set(crashing.next_run + timedelta(seconds=1))
        with pytest.raises(RuntimeError):
            crashing.tick()
        assert replicas["two"].tick() is False  # that day was claimed by the replica that died
        clock.set(replicas["two"].next_run + timedelta(seconds=1))
        assert replicas["two"].tick() is True  # the next day is not held back
