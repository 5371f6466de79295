"""outcome_of: the person always hears back, with the error's own sentence or a reference."""

from __future__ import annotations

import logging

import pytest

from bot.errors import ApnsBotError
from bot.slack.outcomes import outcome_of


def boom() -> str:
    raise KeyError("a bug")


def refused() -> str:
    raise ApnsBotError("This request does not exist (any more).")


def test_the_work_s_own_answer_passes_through() -> None:
    assert outcome_of("reading", lambda: "fine", failed=str) == "fine"


def test_an_apns_bot_error_is_rendered_by_refused() -> None:
    answer = outcome_of("reading", refused, refused=lambda e: f"! {e.user_message}", failed=str)
    assert answer == "! This request does not exist (any more)."


def test_a_bug_is_logged_with_a_reference_and_the_person_gets_a_sentence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.errors"):
        answer = outcome_of("reading the history", boom, failed=lambda s: f"[{s}]")
    assert answer.startswith("[Something went wrong inside apns-bot while reading the history")
    [record] = caplog.records
    reference = answer.split("reference ")[1].rstrip(").]")
    assert reference in record.getMessage() and record.exc_info is not None


def test_without_refused_an_apns_bot_error_counts_as_unexpected() -> None:
    answer = outcome_of("sending the CSR", refused, failed=str)
    assert "Something went wrong inside apns-bot while sending the CSR" in answer
