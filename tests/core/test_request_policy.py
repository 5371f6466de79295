"""Who may do what to a change request, and how Graph's view compares. Table-driven, no mocks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.core.model import TenantCertificate
from bot.core.request_policy import (
    Outcome,
    approvals_remaining,
    decide_approval,
    decide_cancellation,
    decide_rejection,
    decide_retry,
    describe_status,
    is_expired,
    is_in_place,
    normalise_serial,
    readback_mismatches,
    snapshot_is_stale,
    time_left,
)
from bot.core.requests import Approval, Status
from tests.core.request_fixtures import CURRENT, NOT_AFTER, T0, TOPIC, approved_by, make

# --- approval -----------------------------------------------------------------------------------

LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("changes", "user", "is_approver", "required", "now", "outcome", "needed"),
    [
        ({}, "ULEAD", True, 1, LATER, Outcome.READY_TO_APPLY, 0),
        ({}, "ULEAD", True, 2, LATER, Outcome.RECORDED, 1),
        ({"approvals": approved_by("UA")}, "ULEAD", True, 2, LATER, Outcome.READY_TO_APPLY, 0),
        (
            {"approvals": approved_by("UA")},
            "UA",
            True,
            2,
            LATER,
            Outcome.ALREADY_APPROVED_BY_YOU,
            1,
        ),
        ({}, "UREQ", True, 1, LATER, Outcome.REFUSED_SELF_APPROVAL, 1),
        ({}, "UREQ", False, 1, LATER, Outcome.REFUSED_SELF_APPROVAL, 1),
        ({}, "URANDOM", False, 1, LATER, Outcome.REFUSED_NOT_APPROVER, 1),
        ({}, "ULEAD", True, 1, T0 + timedelta(hours=24), Outcome.REFUSED_EXPIRED, 0),
        ({"status": Status.EXPIRED}, "ULEAD", True, 1, LATER, Outcome.REFUSED_EXPIRED, 0),
        ({"status": Status.APPROVED}, "ULEAD", True, 1, LATER, Outcome.REFUSED_NOT_PENDING, 0),
        ({"status": Status.APPLYING}, "ULEAD", True, 1, LATER, Outcome.REFUSED_NOT_PENDING, 0),
        ({"status": Status.APPLIED}, "ULEAD", True, 1, LATER, Outcome.REFUSED_NOT_PENDING, 0),
        ({"status": Status.REJECTED}, "ULEAD", True, 1, LATER, Outcome.REFUSED_NOT_PENDING, 0),
        # the requester's own approval (e.g. stored before a config change) never counts
        ({"approvals": approved_by("UREQ")}, "ULEAD", True, 1, LATER, Outcome.READY_TO_APPLY, 0),
    ],
)
def test_decide_approval(
    changes: dict[str, object],
    user: str,
    is_approver: bool,
    required: int,
    now: datetime,
    outcome: Outcome,
    needed: int,
) -> None:
    decision = decide_approval(
        make(**changes), user, is_approver=is_approver, required=required, now=now
    )
    assert decision.outcome is outcome
    assert decision.approvals_needed == needed
    assert decision.reason
    assert decision.refused is outcome.value.startswith("refused_")
    assert decision.allowed is (outcome in {Outcome.RECORDED, Outcome.READY_TO_APPLY})


def test_refusal_reason_names_the_state() -> None:
    decision = decide_approval(
        make(status=Status.APPLIED), "ULEAD", is_approver=True, required=1, now=LATER
    )
    assert decision.reason == "This request has already been applied."


@pytest.mark.parametrize(
    ("approvals", "required", "remaining"),
    [
        ((), 1, 1),
        (approved_by("UA"), 1, 0),
        (approved_by("UA"), 3, 2),
        (approved_by("UA", "UB", "UC"), 2, 0),
        (approved_by("UREQ", "UA"), 2, 1),
    ],
)
def test_approvals_remaining(
    approvals: tuple[Approval, ...], required: int, remaining: int
) -> None:
    assert approvals_remaining(make(approvals=approvals), required) == remaining


# --- rejection, retry, cancellation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "user", "is_approver", "now", "outcome"),
    [
        ({}, "ULEAD", True, LATER, Outcome.REJECTED),
        ({}, "UREQ", True, LATER, Outcome.REJECTED),
        ({}, "UREQ", False, LATER, Outcome.CANCELLED),
        ({}, "URANDOM", False, LATER, Outcome.REFUSED_NOT_APPROVER),
        ({}, "ULEAD", True, T0 + timedelta(days=2), Outcome.REFUSED_EXPIRED),
        ({"status": Status.APPLYING}, "ULEAD", True, LATER, Outcome.REFUSED_NOT_PENDING),
        ({"status": Status.REJECTED}, "ULEAD", True, LATER, Outcome.REFUSED_NOT_PENDING),
    ],
)
def test_decide_rejection(
    changes: dict[str, object], user: str, is_approver: bool, now: datetime, outcome: Outcome
) -> None:
    decision = decide_rejection(make(**changes), user, is_approver=is_approver, now=now)
    assert decision.outcome is outcome
    assert decision.allowed is (outcome in {Outcome.REJECTED, Outcome.CANCELLED})


@pytest.mark.parametrize(
    ("status", "is_approver", "outcome"),
    [
        (Status.FAILED, True, Outcome.READY_TO_APPLY),
        (Status.FAILED, False, Outcome.REFUSED_NOT_APPROVER),
        (Status.APPLIED, True, Outcome.REFUSED_NOT_FAILED),
        (Status.APPLYING, True, Outcome.REFUSED_NOT_FAILED),
        (Status.PENDING, True, Outcome.REFUSED_NOT_FAILED),
    ],
)
def test_decide_retry(status: Status, is_approver: bool, outcome: Outcome) -> None:
    assert decide_retry(make(status=status), is_approver=is_approver).outcome is outcome


@pytest.mark.parametrize(
    ("status", "user", "is_approver", "outcome"),
    [
        (Status.PENDING, "UREQ", False, Outcome.CANCELLED),
        (Status.PENDING, "ULEAD", True, Outcome.CANCELLED),
        (Status.PENDING, "URANDOM", False, Outcome.REFUSED_NOT_APPROVER),
        (Status.FAILED, "ULEAD", True, Outcome.CANCELLED),
        (Status.APPLYING, "ULEAD", True, Outcome.REFUSED_NOT_PENDING),
        (Status.APPLIED, "UREQ", False, Outcome.REFUSED_NOT_PENDING),
    ],
)
def test_decide_cancellation(
    status: Status, user: str, is_approver: bool, outcome: Outcome
) -> None:
    decision = decide_cancellation(make(status=status), user, is_approver=is_approver)
    assert decision.outcome is outcome


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "now", "expired", "left"),
    [
        (Status.PENDING, T0, False, timedelta(hours=24)),
        (Status.PENDING, T0 + timedelta(hours=23, minutes=59), False, timedelta(minutes=1)),
        (Status.PENDING, T0 + timedelta(hours=24), True, timedelta(0)),
        (Status.EXPIRED, T0, True, timedelta(hours=24)),
        (Status.APPLIED, T0 + timedelta(days=9), False, timedelta(0)),
    ],
)
def test_is_expired_and_time_left(
    status: Status, now: datetime, expired: bool, left: timedelta
) -> None:
    req = make(status=status)
    assert is_expired(req, now) is expired
    assert time_left(req, now) == left


def test_every_status_has_words() -> None:
    assert all(describe_status(s) for s in Status)


# --- comparing with what Graph reports ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("0B7002EFEA6BA6D0", "B7002EFEA6BA6D0"),
        ("0b:70:02:ef:ea:6b:a6:d0", "B7002EFEA6BA6D0"),
        ("b7002efea6ba6d0", "B7002EFEA6BA6D0"),
        ("00", "0"),
        (None, ""),
    ],
)
def test_normalise_serial(raw: str | None, normal: str) -> None:
    assert normalise_serial(raw) == normal


def graph(**changes: object) -> TenantCertificate:
    seen = TenantCertificate(
        apple_id="mdm@example.com", topic=TOPIC, serial="1C2D3E4F5A6B7C8D", expires_at=NOT_AFTER
    )
    return replace(seen, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observed", "wrong"),
    [
        (graph(), ()),
        (graph(serial="1c:2d:3e:4f:5a:6b:7c:8d"), ()),
        (graph(expires_at=NOT_AFTER + timedelta(milliseconds=400)), ()),
        (graph(expires_at=NOT_AFTER + timedelta(seconds=2)), ("expiry",)),
        (graph(serial="0B7002EFEA6BA6D0"), ("serial",)),
        (graph(topic="com.apple.mgmt.External.x"), ("topic",)),
        (CURRENT, ("serial", "expiry")),  # the certificate it replaces
        (TenantCertificate(None, None, None, None), ("topic", "serial", "expiry")),
    ],
)
def test_readback(observed: TenantCertificate, wrong: tuple[str, ...]) -> None:
    assert readback_mismatches(make(), observed) == wrong
    assert is_in_place(make(), observed) is (wrong == ())


@pytest.mark.parametrize(
    ("snapshot", "observed", "stale"),
    [
        (CURRENT, CURRENT, False),
        (CURRENT, replace(CURRENT, serial="0b:70:02:ef:ea:6b:a6:d0"), False),
        (CURRENT, replace(CURRENT, serial="FFFF"), True),
        (CURRENT, replace(CURRENT, expires_at=NOT_AFTER), True),
        (CURRENT, TenantCertificate(None, None, None, None), True),
        (None, TenantCertificate(None, None, None, None), False),
        (None, CURRENT, True),
    ],
)
def test_snapshot_is_stale(
    snapshot: TenantCertificate | None, observed: TenantCertificate, stale: bool
) -> None:
    assert snapshot_is_stale(make(current=snapshot), observed) is stale
