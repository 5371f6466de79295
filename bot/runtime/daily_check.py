"""A job run once a day at a wall-clock time in a time zone (the daily certificate check).

``tick()`` is polled by a ``bot.runtime.scheduler.Ticker`` every few seconds rather than sleeping until the
next run: the schedule stays right after the host sleeps or its clock jumps, a host that slept
through several days runs one catch-up, and tests drive it with an injected clock. The next run
comes from ``bot.core.schedule.next_daily_run`` (DST-aware).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, tzinfo

from bot.core.schedule import next_daily_run

log = logging.getLogger(__name__)


class DailyCheck:
    """Calls ``run`` once a day at ``at`` in ``zone``."""

    def __init__(
        self,
        run: Callable[[], object],
        at: time,
        zone: tzinfo,
        clock: Callable[[], datetime],
    ) -> None:
        self._run = run
        self._at = at
        self._zone = zone
        self._clock = clock
        self._lock = threading.Lock()
        self.next_run = next_daily_run(clock(), at, zone)

    def tick(self) -> bool:
        """Run the check when it is due; True when it ran."""
        with self._lock:
            now = self._clock()
            if now < self.next_run:
                return False
            self.next_run = next_daily_run(now, self._at, self._zone)
        log.info("daily certificate check (next at %s)", self.next_run.isoformat())
        self._run()
        return True
