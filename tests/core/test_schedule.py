"""The daily check's next run: a wall-clock time in a time zone, across DST changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.schedule import next_daily_run
from tests.clock import T0

BERLIN = ZoneInfo("Europe/Berlin")  # 2026: CET->CEST on 29 March, CEST->CET on 25 October
NEW_YORK = ZoneInfo("America/New_York")  # 2026: EST->EDT on 8 March, EDT->EST on 1 November


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "at", "zone", "expected"),
    [
        # plain days: later today, or tomorrow once today's run has passed
        (utc(2026, 1, 10, 7, 0), time(9), BERLIN, utc(2026, 1, 10, 8, 0)),
        (utc(2026, 1, 10, 8, 0), time(9), BERLIN, utc(2026, 1, 11, 8, 0)),  # exactly now: next day
        (utc(2026, 1, 10, 8, 0, 1), time(9), BERLIN, utc(2026, 1, 11, 8, 0)),
        (utc(2026, 1, 10, 23, 30), time(9), ZoneInfo("UTC"), utc(2026, 1, 11, 9, 0)),
        # spring forward in Berlin: 09:00 is 08:00 UTC before, 07:00 UTC after (23 hours apart)
        (utc(2026, 3, 28, 8, 0, 1), time(9), BERLIN, utc(2026, 3, 29, 7, 0)),
        (utc(2026, 3, 29, 7, 0, 1), time(9), BERLIN, utc(2026, 3, 30, 7, 0)),
        # fall back: 07:00 UTC before, 08:00 UTC after (25 hours apart)
        (utc(2026, 10, 24, 7, 0, 1), time(9), BERLIN, utc(2026, 10, 25, 8, 0)),
        # 02:30 does not exist on 29 March: it runs at 03:30 CEST (01:30 UTC), once
        (utc(2026, 3, 28, 20, 0), time(2, 30), BERLIN, utc(2026, 3, 29, 1, 30)),
        (utc(2026, 3, 29, 1, 30, 1), time(2, 30), BERLIN, utc(2026, 3, 30, 0, 30)),
        # 02:30 happens twice on 25 October: only the first one (CEST, 00:30 UTC)
        (utc(2026, 10, 24, 23, 0), time(2, 30), BERLIN, utc(2026, 10, 25, 0, 30)),
        (utc(2026, 10, 25, 0, 30, 1), time(2, 30), BERLIN, utc(2026, 10, 26, 1, 30)),
        # the other side of the Atlantic, and a "now" given in another zone
        (utc(2026, 3, 7, 14, 0, 1), time(9), NEW_YORK, utc(2026, 3, 8, 13, 0)),
        (
            datetime(2026, 10, 31, 10, 0, 1, tzinfo=NEW_YORK),
            time(9),
            NEW_YORK,
            utc(2026, 11, 1, 14, 0),
        ),
    ],
)
def test_next_daily_run(now: datetime, at: time, zone: ZoneInfo, expected: datetime) -> None:
    nxt = next_daily_run(now, at, zone)
    assert nxt == expected
    assert nxt.tzinfo is UTC
    assert nxt > now
    assert nxt.astimezone(zone).time() in (
        at,
        (datetime.combine(nxt, at) + timedelta(hours=1)).time(),
    )


def test_a_year_of_runs_is_one_a_day_at_the_local_time() -> None:
    now = utc(2026, 1, 1, 0, 0)
    runs = []
    for _ in range(365):
        now = next_daily_run(now, time(9), BERLIN)
        runs.append(now)
    assert len({r.astimezone(BERLIN).date() for r in runs}) == 365
    assert {r.astimezone(BERLIN).time() for r in runs} == {time(9)}
    gaps = {b - a for a, b in itertools.pairwise(runs)}
    assert gaps == {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_daily_run(T0.replace(tzinfo=None), time(9), BERLIN)
