"""Change requests: the record, its transitions and its ids. Table-driven, no mocks."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.model import TenantCertificate
from bot.core.requests import (
    ID_ENTROPY_BYTES,
    TRANSITIONS,
    Event,
    Status,
    can_transition,
    is_request_id,
    new_change_request,
    new_request_id,
    transition_event,
)
from tests.core.request_fixtures import CURRENT, NOT_AFTER, PEM, T0, TOPIC, make

# --- the request itself -------------------------------------------------------------------------


def test_new_change_request_is_pending_with_deadline_and_trimmed_text() -> None:
    req = make()
    assert req.status is Status.PENDING
    assert req.expires_at == T0 + timedelta(hours=24)
    assert req.created_at == req.updated_at == T0
    assert req.reason == "CHG-42"
    assert req.attempts == 0 and req.approvals == () and req.failure is None


def test_blank_reason_is_none() -> None:
    assert replace(make(), reason=None).reason is None
    req = new_change_request(
        id="req_x", tenant="t", requester="U1", apple_id=" a@b.c ", certificate_pem=PEM,
        sha256="00", topic=TOPIC, serial="01", not_after=NOT_AFTER, now=T0,
        ttl=timedelta(hours=1), reason="   ",
    )  # fmt: skip
    assert req.reason is None
    assert req.apple_id == "a@b.c"


def test_repr_never_shows_the_certificate() -> None:
    assert "BEGIN CERTIFICATE" not in repr(make())


@pytest.mark.parametrize(
    ("current", "apple_id", "topic", "first", "apple_changed", "topic_changed"),
    [
        (None, "mdm@example.com", TOPIC, True, False, False),
        (TenantCertificate(None, None, None, None), "mdm@example.com", TOPIC, True, False, False),
        (CURRENT, "mdm@example.com", TOPIC, False, False, False),
        (CURRENT, "MDM@Example.com", TOPIC, False, False, False),
        (CURRENT, "other@example.com", TOPIC, False, True, False),
        (CURRENT, "mdm@example.com", "com.apple.mgmt.External.other", False, False, True),
    ],
)
def test_what_changes(
    current: TenantCertificate | None,
    apple_id: str,
    topic: str,
    first: bool,
    apple_changed: bool,
    topic_changed: bool,
) -> None:
    req = make(current=current, apple_id=apple_id, topic=topic)
    assert req.is_first_upload is first
    assert req.apple_id_changed is apple_changed
    assert req.topic_changed is topic_changed


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "allowed"),
    [
        (Status.PENDING, Status.APPROVED, True),
        (Status.PENDING, Status.REJECTED, True),
        (Status.PENDING, Status.EXPIRED, True),
        (Status.PENDING, Status.CANCELLED, True),
        (Status.PENDING, Status.APPLYING, False),
        (Status.APPROVED, Status.APPLYING, True),
        (Status.APPROVED, Status.APPLIED, False),
        (Status.APPROVED, Status.EXPIRED, False),
        (Status.APPROVED, Status.FAILED, True),  # delegated: the approver's sign-in failed
        (Status.APPLYING, Status.APPLIED, True),
        (Status.APPLYING, Status.FAILED, True),
        (Status.APPLYING, Status.APPLYING, False),
        (Status.FAILED, Status.APPLYING, True),
        (Status.FAILED, Status.APPLIED, True),
        (Status.FAILED, Status.CANCELLED, True),
        (Status.FAILED, Status.PENDING, False),
        (Status.APPLIED, Status.APPLYING, False),
        (Status.REJECTED, Status.APPROVED, False),
        (Status.EXPIRED, Status.APPROVED, False),
        (Status.CANCELLED, Status.PENDING, False),
    ],
)
def test_transitions(start: Status, end: Status, allowed: bool) -> None:
    assert can_transition(start, end) is allowed


def test_every_status_has_a_row_and_final_ones_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(Status)
    finals = {s for s in Status if s.is_final}
    assert finals == {Status.APPLIED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED}


@pytest.mark.parametrize(
    ("start", "end", "event"),
    [
        (Status.PENDING, Status.APPROVED, Event.APPROVAL_COMPLETE),
        (Status.APPROVED, Status.APPLYING, Event.APPLYING),
        (Status.FAILED, Status.APPLYING, Event.RETRIED),
        (Status.APPLYING, Status.FAILED, Event.FAILED),
        (Status.PENDING, Status.EXPIRED, Event.EXPIRED),
    ],
)
def test_transition_event(start: Status, end: Status, event: Event) -> None:
    assert transition_event(start, end) is event


# --- ids ----------------------------------------------------------------------------------------


def test_request_ids_are_well_formed_sortable_and_distinct() -> None:
    a = new_request_id(T0, bytes(ID_ENTROPY_BYTES))
    b = new_request_id(T0 + timedelta(milliseconds=1), bytes(ID_ENTROPY_BYTES))
    c = new_request_id(T0, b"\xff" * ID_ENTROPY_BYTES)
    assert re.fullmatch(r"req_[0-9A-Z]{26}", a)
    assert a < c < b  # time first, then the random part
    assert all(is_request_id(x) for x in (a, b, c))
    assert new_request_id(T0.astimezone(), bytes(10)) == a  # same instant in another zone


@pytest.mark.parametrize(
    "value",
    ["", "req_", "req_" + "0" * 25, "req_" + "0" * 27, "REQ_01J0000000000000000000000A",
     "req_01J000000000000000000000IL", "req_81J0000000000000000000000A", "U123",
     "req_01J0000000000000000000000A\n"],
)  # fmt: skip
def test_is_request_id_refuses(value: str) -> None:
    assert not is_request_id(value)


@pytest.mark.parametrize(
    ("now", "entropy"),
    [
        (T0.replace(tzinfo=None), bytes(10)),  # naive
        (T0, bytes(9)),
        (datetime(1969, 12, 31, tzinfo=UTC), bytes(10)),
    ],
)
def test_new_request_id_refuses_bad_input(now: datetime, entropy: bytes) -> None:
    with pytest.raises(ValueError):
        new_request_id(now, entropy)
