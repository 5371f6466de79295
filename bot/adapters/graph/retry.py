"""How long to wait before trying an HTTP call again: ``Retry-After`` first, else backoff.

Backoff is exponential with full jitter (a random delay between 0 and ``base * 2**n``, capped at
``max_delay``), so many bots throttled together do not come back in lock-step. The whole wait of one
call (or of a ``Budget`` shared by several) is bounded by ``max_total_wait``; a server asking for
more than that is not waited out.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # the first try included
    base_delay: float = 0.5  # seconds; the n-th retry waits up to base_delay * 2**(n-1)
    max_delay: float = 8.0  # cap for one backoff delay
    max_total_wait: float = 60.0  # cap for all waits of one call, Retry-After included
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)  # in [0, 1)
    clock: Callable[[], float] = field(default=time.time, repr=False)  # for HTTP-date Retry-After

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(0, retry - 1))
        return max(0.0, min(1.0, self.jitter())) * ceiling

    def retry_after(self, header: str | None) -> float | None:
        return parse_retry_after(header, self.clock())


@dataclass
class Budget:
    """What one read has spent of its ``RetryPolicy``: the tries made and the seconds waited.

    ``GraphTransport.send`` starts a fresh one per call unless given one. A tenant's watched read
    shares one between its JSON batch, the batch reading items again and its plain reads
    (``bot.adapters.graph.batch``), so that read as a whole waits at most ``max_total_wait`` and
    tries at most ``max_attempts`` times (each request is still sent at least once).
    """

    tries: int = 0
    waited: float = 0.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
