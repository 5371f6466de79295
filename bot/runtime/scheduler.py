"""Periodic jobs of a running bot (expiring requests, the daily certificate check).

A plain daemon thread per job: the bot has a handful of jobs, each cheap and idempotent across
replicas (the store's compare-and-set and once-only marks make a second run harmless).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    """Runs ``job`` every ``interval`` seconds (first run after ``delay``) until ``stop()``."""

    def __init__(
        self, name: str, interval: float, job: Callable[[], object], *, delay: float = 0.0
    ) -> None:
        self.name = name
        self._interval = interval
        self._delay = delay
        self._job = job
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"tick-{name}", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        wait = self._delay
        while not self._stopped.wait(wait):
            try:
                self._job()
            except Exception:
                log.exception("scheduled job %s failed", self.name)
            wait = self._interval
