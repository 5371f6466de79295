"""Pending requests belong to their requester: whose request a new submission must wait for."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.request_policy import open_request_of_another
from bot.core.requests import ChangeRequest, Status
from tests.core.request_fixtures import make

MINE = make(id="req_01J0000000000000000000000A", requester="UME")
THEIRS = make(id="req_01J0000000000000000000000B", requester="UTHEM")
NOW = MINE.created_at + timedelta(minutes=5)


def later(request: ChangeRequest, minutes: int) -> ChangeRequest:
    return replace(request, created_at=request.created_at + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        ([], None),
        ([MINE], None),  # my own pending request: mine to replace
        ([THEIRS], THEIRS),  # someone else's: I wait
        ([MINE, THEIRS], THEIRS),
        ([replace(THEIRS, status=Status.APPROVED)], None),  # only pending ones count
    ],
    ids=["none", "mine", "theirs", "both", "approved"],
)
def test_a_new_request_waits_only_for_someone_elses_pending_one(
    pending: list[ChangeRequest], expected: ChangeRequest | None
) -> None:
    assert open_request_of_another(pending, "UME", NOW) == expected


def test_the_oldest_of_several_is_named() -> None:
    older, newer = THEIRS, later(replace(THEIRS, id="req_01J0000000000000000000000C"), 2)
    assert open_request_of_another([newer, older], "UME", NOW) == older


def test_an_expired_request_no_longer_holds_the_tenant() -> None:
    assert (
        open_request_of_another([THEIRS], "UME", THEIRS.expires_at + timedelta(seconds=1)) is None
    )
