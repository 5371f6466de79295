"""A job run once a day at a wall-clock time in a time zone (the daily certificate check).

``tick()`` is polled by a ``bot.runtime.scheduler.Ticker`` every few seconds rather than sleeping until the
next run: the schedule stays right after the host sleeps or its clock jumps, a host that slept
through several days runs one catch-up, and tests drive it with an injected clock. The next run
comes from ``bot.core.schedule.next_daily_run`` (DST-aware).

Replicas share the run: with a ``claim`` (``claim_in``) each scheduled run is marked once in the
store, and only the replica whose mark landed runs it. A mark is per run, not a lock: a replica
that dies mid-check cannot hold back the next day's run (and each reminder is claimed on its own,
so a lost one is posted by the next check).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, tzinfo

from bot.core.schedule import next_daily_run
from bot.usecases.ports import NoticeStore

log = logging.getLogger(__name__)

CLAIM_TENANT = "*"  # not a tenant name: the marks of the bot's own schedule


def claim_in(store: NoticeStore, clock: Callable[[], datetime]) -> Callable[[datetime], bool]:
    """Claims of scheduled runs in ``store``: True for the first replica to claim a run."""

    def claim(scheduled: datetime) -> bool:
        return store.mark_notice_once(CLAIM_TENANT, f"daily-check:{scheduled.isoformat()}", clock())

    return claim


class DailyCheck:
    """Calls ``run`` once a day at ``at`` in ``zone``."""

    def __init__(
        self,
        run: Callable[[], object],
        at: time,
        zone: tzinfo,
        clock: Callable[[], datetime],
        claim: Callable[[datetime], bool] | None = None,
    ) -> None:
        self._run = run
        self._claim = claim
        self._at = at
        self._zone = zone
        self._clock = clock
        self._lock = threading.Lock()
        self.next_run = next_daily_run(clock(), at, zone)

    def tick(self) -> bool:
        """Run the check when it is due (and this replica claimed it); True when it ran."""
        with self._lock:
            now = self._clock()
            if now < self.next_run:
                return False
            scheduled, self.next_run = self.next_run, next_daily_run(now, self._at, self._zone)
        if self._claim is not None and not self._claim(scheduled):
            log.info(
                "daily certificate check of %s: another replica runs it", scheduled.isoformat()
            )
            return False
        log.info("daily certificate check (next at %s)", self.next_run.isoformat())
        self._run()
        return True
