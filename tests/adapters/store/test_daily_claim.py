"""The daily check shared by replicas: one runs each day's check, one that died during a check
holds back no later day, and its unfinished run is taken over (on every backend)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.store import SqlStore
from bot.runtime.daily_check import (
    CLAIM_TENANT,
    KEEP_MARKS,
    TAKEOVER_AFTER,
    DailyCheck,
    RunClaims,
)
from tests.adapters.store.conftest import Backend
from tests.clock import MovableClock

ZONE = ZoneInfo("Europe/Berlin")


def replica(store: SqlStore, clock: MovableClock, run: Callable[[], object]) -> DailyCheck:
    return DailyCheck(run, time(9), ZONE, clock, RunClaims(store, clock))


def test_each_day_s_check_is_run_by_one_replica(backend: Backend) -> None:
    clock = MovableClock()
    runs: list[str] = []
    with backend.open() as one, backend.open() as two:
        replicas = [
            replica(one, clock, lambda: runs.append("one")),
            replica(two, clock, lambda: runs.append("two")),
        ]
        for day in range(3):
            clock.set(replicas[0].next_run + timedelta(seconds=1))
            assert [r.tick() for r in replicas].count(True) == 1, day
            assert [r.tick() for r in replicas] == [False, False]
            clock.set(clock() + TAKEOVER_AFTER)  # the run finished: nobody takes it over
            assert [r.tick() for r in replicas] == [False, False]
        assert len(runs) == 3


def test_a_replica_dying_mid_check_is_taken_over_and_blocks_no_later_day(
    backend: Backend,
) -> None:
    clock = MovableClock()
    runs: list[str] = []

    def dies() -> None:
        raise RuntimeError("killed mid-check")

    with backend.open() as one, backend.open() as two:
        dying, other = replica(one, clock, dies), replica(two, clock, lambda: runs.append("two"))
        clock.set(dying.next_run + timedelta(seconds=1))
        with pytest.raises(RuntimeError):
            dying.tick()
        assert other.tick() is False  # claimed by the replica that is dying
        clock.set(clock() + TAKEOVER_AFTER - timedelta(seconds=1))
        assert other.tick() is False
        clock.advance(seconds=1)
        assert other.tick() is True and runs == ["two"]  # never finished: taken over, once
        assert other.tick() is False
        clock.set(other.next_run + timedelta(seconds=1))
        assert other.tick() is True  # the next day is its own
        assert runs == ["two", "two"]


def test_the_marks_of_runs_older_than_a_month_are_pruned(backend: Backend) -> None:
    clock = MovableClock()
    with backend.open() as store:
        daily = replica(store, clock, lambda: None)
        store.mark_notice_once("default", "daily-check:a tenant's own", clock())
        for _ in range(KEEP_MARKS.days + 5):
            clock.set(daily.next_run + timedelta(seconds=1))
            assert daily.tick() is True
        marks = store.list_notices(CLAIM_TENANT, "daily-check:")
        assert marks and all(clock() - at <= KEEP_MARKS for _, at in marks)
        assert len(marks) <= 2 * (KEEP_MARKS.days + 1)  # a claim and a finish a day
        assert len(store.list_notices("default")) == 1  # nobody else's marks are touched
