"""The test suite's one "now": ``T0``, and clocks and sleeps that tests control.

Every in-process test takes "now" from ``T0``; every date in tests, fakes and generated
certificates is written as an offset from it (``T0 + timedelta(days=200)``). ``T0`` is a fixed
instant by default so that a run is repeatable; the environment variable ``APNS_TEST_NOW`` (an ISO
8601 instant with an offset, e.g. ``2028-02-29T23:40:00+00:00``) moves it, and the whole suite must
pass with any value from today to five years ahead, at any hour:

    APNS_TEST_NOW=2029-07-01T00:20:00+00:00 .venv/bin/pytest

Only tests that start the bot as a separate process (``apns-bot run`` in a subprocess) keep the
real clock, because that process reads it; their dates are offsets from ``real_now()``.
Nothing here reads the real clock at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# The default anchor: an ordinary weekday morning. Any instant works; this one is fixed so that
# two runs of the suite see the same dates. Override with APNS_TEST_NOW.
DEFAULT_T0 = "2026-12-03T09:30:00+00:00"  # APNS_TEST_NOW's default


def _anchor() -> datetime:
    raw = os.environ.get("APNS_TEST_NOW", "").strip() or DEFAULT_T0
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SystemExit(
            f"APNS_TEST_NOW={raw!r} is not an ISO 8601 instant (e.g. 2028-02-29T23:40:00+00:00)"
        ) from exc
    if value.tzinfo is None:
        raise SystemExit(f"APNS_TEST_NOW={raw!r} needs an offset, e.g. +00:00")
    return value.astimezone(UTC).replace(microsecond=0)


T0: datetime = _anchor()
"""The suite's "now": fixed by default, moved by ``APNS_TEST_NOW``."""


def days(n: float) -> datetime:
    """``T0`` plus ``n`` days (negative for the past)."""
    return T0 + timedelta(days=n)


def iso(moment: datetime) -> str:
    """``moment`` as Graph writes it: ``2027-10-06T13:11:28Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def real_now() -> datetime:
    """The real clock, for tests whose bot runs as a separate process (which reads it too)."""
    return datetime.now(UTC).replace(microsecond=0)


class MovableClock:
    """A clock that stands at ``start`` (``T0`` by default) until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


class RecordingSleep:
    """A ``sleep`` that records the delays it was asked for instead of waiting.

    With ``clock``, each sleep also moves that clock forward by the delay, as real time would.
    """

    def __init__(self, clock: MovableClock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds=seconds)

    @property
    def total(self) -> float:
        return sum(self.delays)


Clock = Callable[[], datetime]
