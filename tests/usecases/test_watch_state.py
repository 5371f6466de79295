"""The watch's stored marks keep the JSON shapes replicas of every version read and write."""

from __future__ import annotations

from datetime import timedelta

from bot.usecases.watch_state import POSTING_LEASE, FailingCheck, RetryMark, failing_since
from tests.clock import T0


def test_a_mark_being_posted_and_a_refused_one_are_written_as_before() -> None:
    since = T0 - timedelta(hours=3)
    posting = RetryMark(since=since, posting=T0).to_json()
    refused = RetryMark(since=since, refused=T0).to_json()
    assert posting == {"posting": T0.isoformat(), "since": since.isoformat()}
    assert refused == {"refused": T0.isoformat(), "since": since.isoformat()}
    assert RetryMark.read(posting, T0) == RetryMark(since=since, posting=T0)


def test_a_post_in_flight_counts_only_within_its_lease() -> None:
    mark = RetryMark(since=T0, posting=T0)
    assert mark.in_flight(T0 + POSTING_LEASE - timedelta(seconds=1))
    assert not mark.in_flight(T0 + POSTING_LEASE)
    assert not RetryMark(since=T0, refused=T0).in_flight(T0)


def test_an_unreadable_mark_falls_back_to_when_it_was_written() -> None:
    mark = RetryMark.read({"since": "not a time", "posting": 7}, T0)
    assert mark == RetryMark(since=T0)
    assert RetryMark.read(None, T0) == RetryMark(since=T0)


def test_the_failing_state_round_trips_and_rejects_garbage() -> None:
    state = FailingCheck(T0, "Graph could not be reached.")
    assert failing_since(state.to_json()) == state
    assert failing_since({"since": "yesterday"}) is None
    assert failing_since("check failing") is None
