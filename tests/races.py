"""Work released on several threads at once by a barrier: replicas, people clicking together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

WAIT = 60.0  # seconds a racer may take before the race counts as hung (a failure, not a hang)


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` on ``n`` threads released together by a barrier; results in order. A
    racer that raises re-raises here; one that hangs fails the race with ``TimeoutError``."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=WAIT)
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(run, i) for i in range(n)]
        return [f.result(timeout=WAIT) for f in futures]
