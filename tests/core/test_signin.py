"""Delegated sign-in values: what a poll answer means, the next interval, whose account it is."""

from __future__ import annotations

import pytest

from bot.core.requests import Approval
from bot.core.signin import (
    MAX_INTERVAL,
    PollOutcome,
    classify_poll,
    identity_matches,
    last_approver,
    next_interval,
)
from tests.clock import T0

T = T0


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"access_token": "x", "refresh_token": "y"}, PollOutcome.SIGNED_IN),
        ({"error": "authorization_pending"}, PollOutcome.PENDING),
        ({"error": "slow_down"}, PollOutcome.SLOW_DOWN),
        ({"error": "expired_token"}, PollOutcome.EXPIRED),
        ({"error": "code_expired"}, PollOutcome.EXPIRED),
        ({"error": "access_denied"}, PollOutcome.DECLINED),  # RFC 8628
        ({"error": "authorization_declined"}, PollOutcome.DECLINED),  # Entra ID
        ({"error": "bad_verification_code"}, PollOutcome.FAILED),
        ({"error": "invalid_client"}, PollOutcome.FAILED),
        ({"error": "invalid_grant"}, PollOutcome.FAILED),
        ({"access_token": ""}, PollOutcome.FAILED),
        ({}, PollOutcome.FAILED),
    ],
)
def test_a_poll_answer_is_classified(answer: dict[str, str], outcome: PollOutcome) -> None:
    assert classify_poll(answer) is outcome


@pytest.mark.parametrize(
    ("interval", "outcome", "expected"),
    [
        (5, PollOutcome.PENDING, 5),
        (5, PollOutcome.SLOW_DOWN, 10),
        (10, PollOutcome.SLOW_DOWN, 15),
        (0, PollOutcome.PENDING, 1),
        (MAX_INTERVAL, PollOutcome.SLOW_DOWN, MAX_INTERVAL),
    ],
)
def test_slow_down_adds_five_seconds_within_bounds(
    interval: int, outcome: PollOutcome, expected: int
) -> None:
    assert next_interval(interval, outcome) == expected


@pytest.mark.parametrize(
    ("username", "email", "same"),
    [
        ("lead@contoso.com", "lead@contoso.com", True),
        ("Lead@Contoso.COM", "lead@contoso.com", True),
        (" lead@contoso.com ", "lead@contoso.com", True),
        ("lead@contoso.onmicrosoft.com", "lead@contoso.com", False),
        ("eve@contoso.com", "lead@contoso.com", False),
        ("lead@contoso.com", None, False),
        (None, "lead@contoso.com", False),
        ("", "", False),
    ],
)
def test_identity_matches_case_insensitively_and_never_on_missing_data(
    username: str | None, email: str | None, same: bool
) -> None:
    assert identity_matches(username, email) is same


def test_the_last_approver_is_the_latest_approval_not_by_the_requester() -> None:
    approvals = (Approval("UA", T), Approval("UREQ", T), Approval("UB", T))
    assert last_approver(approvals, "UREQ") == "UB"
    assert last_approver((Approval("UREQ", T),), "UREQ") is None
    assert last_approver((), "UREQ") is None
