"""When the daily check runs next: a wall-clock time in a time zone, across DST (pure).

``APNS_CHECK_TIME=09:00`` with ``APNS_TIMEZONE=Europe/Berlin`` means 09:00 on the clocks in Berlin,
winter and summer, so the interval between runs is 23 or 25 hours around a DST change. A time that
does not exist on a spring-forward day (02:30 when clocks jump from 02:00 to 03:00) runs at the
moment it maps to with the offset before the change (03:30); a time that occurs twice on a
fall-back day runs once, at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo


def next_daily_run(now: datetime, at: time, zone: tzinfo) -> datetime:
    """The first moment strictly after ``now`` when it is ``at`` in ``zone``, as a UTC datetime."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_utc = now.astimezone(UTC)
    today = now_utc.astimezone(zone).date()
    candidate = _at(today, at, zone)
    # Compare in UTC: aware datetimes sharing one tzinfo compare as naive wall times.
    if candidate > now_utc:
        return candidate
    # Tomorrow's run is always after now: now is still on today's local date.
    return _at(today + timedelta(days=1), at, zone)


def _at(day: date, at: time, zone: tzinfo) -> datetime:
    """``at`` on ``day`` in ``zone``, in UTC. fold=0 picks the first occurrence of an ambiguous
    time and the offset before the change for a time inside a spring-forward gap."""
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    return local.astimezone(UTC)
