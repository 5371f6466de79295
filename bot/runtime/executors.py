"""The executors of a running bot: follow-up work runs on them, never on Slack's acknowledgement path.

Slack must see every command, click and submission acknowledged within 3 seconds, so listeners
only acknowledge and hand slow work (Graph, downloads, Slack posts, opening modals) to a
``Background`` executor. Its pool is the bot's own, separate from Bolt's listener pool, so a slow
Graph never starves acknowledgements.

Threads are not enough for that on their own: every thread of the process shares one interpreter
lock, so a follow-up that runs while other requests wait for their acknowledgement delays them by
its CPU time. ``Answering`` counts the requests in Bolt's hands (from the server's call into Bolt
until the answer is handed back to the server; in Socket Mode, until the acknowledgement is sent),
and a ``Background`` task starts only when that count is zero, or when it has waited its executor's
``defer`` seconds, whichever comes first. Alone, a request's follow-up starts as soon as its own
answer is out; in a burst, acknowledgements go first and follow-ups run in the gaps
(docs/benchmarks.md measures both).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Answering:
    """The Slack requests in Bolt's hands: dispatched, answer not yet handed back."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count one request for as long as the block runs (the server's call into Bolt)."""
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                if self._count == 0:
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no request is being answered, at most ``timeout`` s; True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=max(timeout, 0.0))


class Background:
    """One of the bot's own worker pools. Failures are logged with a traceback (server side only).

    With ``answering``, a task is held back until no request is being answered, but never more than
    ``defer`` seconds after it was submitted (see the module's docstring). One gate thread does the
    holding back and hands tasks to the pool in order, so a waiting task never occupies a worker.
    """

    def __init__(
        self,
        max_workers: int = 16,
        *,
        name: str = "apns-work",
        answering: Answering | None = None,
        defer: float = 0.0,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._max_workers = max_workers
        self._defer = defer
        self._closed = False
        self._held: queue.SimpleQueue[_Held | None] | None = None
        self._gate: threading.Thread | None = None
        if answering is not None and defer > 0:
            self._held = queue.SimpleQueue()
            self._gate = threading.Thread(
                target=self._hold_back,
                args=(answering, self._held),
                name=f"{name}-gate",
                daemon=True,
            )
            self._gate.start()

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if self._held is None:
            future = self._pool.submit(fn, *args, **kwargs)
        else:
            future = Future()
            self._held.put(
                _Held(time.monotonic() + self._defer, future, _runner(future, fn, args, kwargs))
            )
        future.add_done_callback(_log_failure)
        return future

    def _hold_back(self, answering: Answering, held: queue.SimpleQueue[_Held | None]) -> None:
        # tasks arrive in order and all wait the same ``defer``: the first one's time is up first
        while (task := held.get()) is not None:
            if answering.count:
                answering.wait_idle(task.latest - time.monotonic())
            try:
                self._pool.submit(task.run)
            except RuntimeError:  # shut down without waiting: it never runs
                task.future.cancel()

    def start_threads(self) -> None:
        """Start every worker now (see ``start_threads``)."""
        start_threads(self._pool, self._max_workers)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking tasks; with ``wait``, run every task already submitted first (held-back
        ones start at the latest after ``defer``), else cancel those that have not started."""
        self._closed = True
        if self._held is not None and self._gate is not None:
            if not wait:
                while True:
                    try:
                        task = self._held.get_nowait()
                    except queue.Empty:
                        break
                    if task is not None:
                        task.future.cancel()
            self._held.put(None)
            self._gate.join()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


@dataclass(frozen=True)
class _Held:
    latest: float  # time.monotonic() by which it starts, whatever is being answered
    future: Future[Any]
    run: Callable[[], None]


def _runner(
    future: Future[T], fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[[], None]:
    """Run ``fn`` on a pool thread and settle ``future`` as ThreadPoolExecutor would."""

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the future carries it, as in ThreadPoolExecutor
            future.set_exception(exc)
        else:
            future.set_result(result)

    return run


def start_threads(pool: ThreadPoolExecutor, count: int, timeout: float = 5.0) -> None:
    """Start ``count`` workers of an idle ``pool`` now rather than one at a time on first use.

    A ThreadPoolExecutor starts a thread when a task finds none idle, and ``submit`` waits until the
    new thread runs: in the first burst after start-up, every acknowledgement that needed a new
    listener thread paid for that hand-off under the GIL (docs/benchmarks.md). ``count`` tasks that
    wait for each other make the pool start ``count`` threads at once, before serving.
    """
    barrier = threading.Barrier(count + 1)
    for _ in range(count):
        pool.submit(barrier.wait, timeout)
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        log.warning("not every worker thread started within %.0f s", timeout)


def _log_failure(future: Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.error("background task failed", exc_info=exc)
