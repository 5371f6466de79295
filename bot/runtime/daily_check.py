"""A job run once a day at a wall-clock time in a time zone (the daily certificate check).

``tick()`` is polled by a ``bot.runtime.scheduler.Ticker`` every few seconds rather than sleeping until the
next run: the schedule stays right after the host sleeps or its clock jumps, a host that slept
through several days runs one catch-up, and tests drive it with an injected clock. The next run
comes from ``bot.core.schedule.next_daily_run`` (DST-aware).

Replicas share the run (``RunClaims``): each scheduled run is marked once in the store and only
the replica whose mark landed runs it, then marks it finished. A mark is per run, not a lock, so
a replica that dies mid-check holds back no later day; and a replica that lost the claim looks
again ``TAKEOVER_AFTER`` later: a run still not finished then is taken over (once) and run again.
Each reminder is claimed on its own (``Watch``), so a run taken over posts nothing twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from bot.core.schedule import next_daily_run
from bot.usecases.ports import NoticeStore

log = logging.getLogger(__name__)

CLAIM_TENANT = "*"  # not a tenant name: the marks of the bot's own schedule
TAKEOVER_AFTER = timedelta(minutes=30)  # a check of 1,000 tenants takes seconds
KEEP_MARKS = timedelta(days=30)  # a finished run's marks are pruned after this


@dataclass(frozen=True)
class RunClaims:
    """Marks of scheduled runs in the store, shared by every replica."""

    store: NoticeStore
    clock: Callable[[], datetime]

    def _key(self, scheduled: datetime, what: str) -> str:
        return f"daily-check:{scheduled.isoformat()}:{what}"

    def claim(self, scheduled: datetime, what: str = "claimed") -> bool:
        """True for the one replica whose mark landed first."""
        return self.store.mark_notice_once(CLAIM_TENANT, self._key(scheduled, what), self.clock())

    def finish(self, scheduled: datetime) -> None:
        self.claim(scheduled, "finished")
        # two marks a day would otherwise pile up for ever
        self.store.forget_notices(CLAIM_TENANT, "daily-check:", self.clock() - KEEP_MARKS)

    def finished(self, scheduled: datetime) -> bool:
        return bool(self.store.list_notices(CLAIM_TENANT, self._key(scheduled, "finished")))


class DailyCheck:
    """Calls ``run`` once a day at ``at`` in ``zone`` (with ``claims``: on one replica)."""

    def __init__(
        self,
        run: Callable[[], object],
        at: time,
        zone: tzinfo,
        clock: Callable[[], datetime],
        claims: RunClaims | None = None,
    ) -> None:
        self._run = run
        self._claims = claims
        self._at = at
        self._zone = zone
        self._clock = clock
        self._lock = threading.Lock()
        self._watching: tuple[datetime, datetime] | None = None  # (a run lost, when to look)
        self.next_run = next_daily_run(clock(), at, zone)

    def tick(self) -> bool:
        """Run the check when it is due (and this replica claimed it); True when it ran."""
        with self._lock:
            now = self._clock()
            if self._watching is not None and now >= self._watching[1]:
                scheduled, takeover, self._watching = self._watching[0], True, None
            elif now >= self.next_run:
                scheduled, takeover = self.next_run, False
                self.next_run = next_daily_run(now, self._at, self._zone)
            else:
                return False
        if self._claims is not None and not self._claimed(self._claims, scheduled, takeover, now):
            return False
        log.info("daily certificate check (next at %s)", self.next_run.isoformat())
        self._run()
        if self._claims is not None:
            self._claims.finish(scheduled)
        return True

    def _claimed(
        self, claims: RunClaims, scheduled: datetime, takeover: bool, now: datetime
    ) -> bool:
        when = scheduled.isoformat()
        if takeover:
            if claims.finished(scheduled) or not claims.claim(scheduled, "taken-over"):
                return False
            log.warning("daily certificate check of %s never finished: running it here", when)
            return True
        if claims.claim(scheduled):
            return True
        log.info("daily certificate check of %s: another replica runs it", when)
        with self._lock:
            self._watching = (scheduled, now + TAKEOVER_AFTER)
        return False
