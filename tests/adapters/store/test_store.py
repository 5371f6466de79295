"""The store contract, on every backend: round trips, approvals, compare-and-set, expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

import pytest

from bot.adapters.store import SqlStore
from bot.core.requests import ApplyResult, Approval, Failure, Rejection, Status
from bot.errors import StoreError
from tests.adapters.store.fixtures import NOT_AFTER, T0, every_field_set, request

LATER = T0 + timedelta(hours=1)


def events(store: SqlStore, request_id: str) -> list[str]:
    return [e.event for e in reversed(store.history("default", request_id=request_id, limit=100))]


# --- round trips --------------------------------------------------------------------------------


def test_every_field_round_trips(store: SqlStore) -> None:
    original = every_field_set()
    store.create_request(original)
    loaded = store.get_request(original.id)
    assert loaded == original
    assert loaded is not None
    assert loaded.certificate_pem == original.certificate_pem  # repr=False fields compare too
    times = [
        loaded.created_at,
        loaded.updated_at,
        loaded.not_after,
        *(a.at for a in loaded.approvals),
    ]
    assert all(t is not None and t.tzinfo is UTC for t in times)


def test_minimal_request_round_trips(store: SqlStore) -> None:
    original = request(current=None, warnings=(), reason=None)
    store.create_request(original)
    assert store.get_request(original.id) == original


def test_unknown_request_is_none_and_duplicate_id_is_refused(store: SqlStore) -> None:
    assert store.get_request("req_nope") is None
    req = request()
    store.create_request(req)
    with pytest.raises(StoreError):
        store.create_request(req)
    assert events(store, req.id) == ["requested"]


def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.create_request(request(expires_at=T0.replace(tzinfo=None)))


def test_list_requests_per_tenant_newest_first_with_filter_and_limit(store: SqlStore) -> None:
    made = [request(created=T0 + timedelta(minutes=i)) for i in range(4)]
    for req in made:
        store.create_request(req)
    store.create_request(request("contoso"))
    store.transition(made[1].id, Status.PENDING, Status.EXPIRED, LATER)

    assert [r.id for r in store.list_requests("default")] == [r.id for r in reversed(made)]
    assert [r.id for r in store.list_requests("default", limit=2)] == [made[3].id, made[2].id]
    expired = store.list_requests("default", statuses=[Status.EXPIRED])
    assert [r.id for r in expired] == [made[1].id]
    assert len(store.list_requests("contoso")) == 1
    assert store.list_requests("fabrikam") == []


def test_requests_in_spans_tenants_oldest_first(store: SqlStore) -> None:
    a, b = request("a", created=T0), request("b", created=T0 + timedelta(seconds=1))
    for req in (b, a):
        store.create_request(req)
        store.transition(req.id, Status.PENDING, Status.CANCELLED, LATER, actor="UREQ")
    assert [r.id for r in store.requests_in(Status.CANCELLED)] == [a.id, b.id]
    assert [r.id for r in store.requests_in(Status.CANCELLED, tenant="b")] == [b.id]
    assert store.requests_in(Status.APPLYING) == []


def test_set_approval_message(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    assert store.set_approval_message(req.id, "C0123ABCD", "1700000000.000200")
    loaded = store.get_request(req.id)
    assert loaded is not None
    assert (loaded.message_channel, loaded.message_ts) == ("C0123ABCD", "1700000000.000200")
    assert not store.set_approval_message("req_nope", "C1", "1.0")


# --- approvals ----------------------------------------------------------------------------------


def test_approval_is_recorded_once(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    first = store.add_approval(req.id, "UA", LATER)
    again = store.add_approval(req.id, "UA", LATER + timedelta(seconds=1))
    assert first.recorded and not again.recorded
    assert first.approvals == again.approvals == (Approval("UA", LATER),)
    second = store.add_approval(req.id, "UB", LATER + timedelta(seconds=2))
    assert second.recorded and [a.user_id for a in second.approvals] == ["UA", "UB"]
    assert events(store, req.id) == ["requested", "approved", "approved"]


def test_approval_on_a_closed_request_is_not_recorded(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    store.transition(req.id, Status.PENDING, Status.EXPIRED, LATER)
    result = store.add_approval(req.id, "UA", LATER)
    assert not result.recorded and result.status is Status.EXPIRED and result.approvals == ()
    with pytest.raises(StoreError, match="no change request"):
        store.add_approval("req_nope", "UA", LATER)


# --- compare-and-set ----------------------------------------------------------------------------


def test_transition_is_compare_and_set(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    assert not store.transition(req.id, Status.APPROVED, Status.APPLYING, LATER)
    assert not store.transition("req_nope", Status.PENDING, Status.APPROVED, LATER)
    assert store.transition(req.id, Status.PENDING, Status.APPROVED, LATER)
    assert not store.transition(req.id, Status.PENDING, Status.APPROVED, LATER)
    assert events(store, req.id) == ["requested", "approval_complete"]


@pytest.mark.parametrize(
    ("start", "end"),
    [(Status.PENDING, Status.APPLYING), (Status.APPLIED, Status.APPLYING)],
)
def test_illegal_transitions_are_programming_errors(
    store: SqlStore, start: Status, end: Status
) -> None:
    with pytest.raises(ValueError, match="not an allowed transition"):
        store.transition("req_x", start, end, LATER)


def test_required_fields_for_rejected_and_failed(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="rejection"):
        store.transition("req_x", Status.PENDING, Status.REJECTED, LATER)
    with pytest.raises(ValueError, match="failure"):
        store.transition("req_x", Status.APPLYING, Status.FAILED, LATER)


def test_enough_approvals_are_part_of_the_compare(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    store.add_approval(req.id, "UREQ", LATER)  # the requester's own never counts
    assert not store.transition(req.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=1)
    store.add_approval(req.id, "UA", LATER)
    assert not store.transition(req.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=2)
    assert store.transition(req.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=1)


def test_apply_fail_retry_apply_keeps_the_facts(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    store.add_approval(req.id, "UA", LATER)
    assert store.transition(req.id, Status.PENDING, Status.APPROVED, LATER, actor="UA")
    assert store.transition(req.id, Status.APPROVED, Status.APPLYING, LATER, actor="UA")
    failure = Failure("ServiceUnavailable", "try later", "req-1")
    assert store.transition(req.id, Status.APPLYING, Status.FAILED, LATER, failure=failure)
    failed = store.get_request(req.id)
    assert failed is not None and failed.failure == failure and failed.attempts == 1

    assert store.transition(req.id, Status.FAILED, Status.APPLYING, LATER, actor="UB")
    retrying = store.get_request(req.id)
    assert retrying is not None and retrying.failure is None and retrying.attempts == 2

    result = ApplyResult(req.topic, req.serial, req.not_after)
    later = LATER + timedelta(minutes=1)
    assert store.transition(
        req.id, [Status.APPLYING, Status.FAILED], Status.APPLIED, later, event="reconciled",
        result=result,
    )  # fmt: skip
    applied = store.get_request(req.id)
    assert applied is not None
    assert (applied.status, applied.result, applied.updated_at) == (Status.APPLIED, result, later)
    assert events(store, req.id) == [
        "requested", "approved", "approval_complete", "applying", "failed", "retried",
        "reconciled",
    ]  # fmt: skip
    last = store.history("default", limit=1)[0]
    assert last.detail == {
        "to": "applied",
        "serial": req.serial,
        "expiry": NOT_AFTER.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
    }


def test_rejection_is_stored(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    rejection = Rejection("UA", LATER, "wrong Apple ID")
    assert store.transition(
        req.id, Status.PENDING, Status.REJECTED, LATER, actor="UA", rejection=rejection
    )
    loaded = store.get_request(req.id)
    assert loaded is not None and loaded.rejection == rejection and loaded.status is Status.REJECTED
    event = store.history("default", limit=1)[0]
    assert (event.event, event.actor, event.detail["reason"]) == (
        "rejected",
        "UA",
        "wrong Apple ID",
    )


# --- expiry -------------------------------------------------------------------------------------


def test_expire_due_moves_only_overdue_pending_requests_once(store: SqlStore) -> None:
    due = request(created=T0)
    fresh = request(created=T0 + timedelta(hours=12))
    approved = request(created=T0)
    other = request("contoso", created=T0)
    for req in (due, fresh, approved, other):
        store.create_request(req)
    store.transition(approved.id, Status.PENDING, Status.APPROVED, LATER)

    now = T0 + timedelta(hours=24)
    moved = store.expire_due(now, tenant="default")
    assert [r.id for r in moved] == [due.id]
    assert moved[0].status is Status.EXPIRED and moved[0].updated_at == now
    assert store.expire_due(now, tenant="default") == []
    assert [r.id for r in store.expire_due(now)] == [other.id]
    assert events(store, due.id) == ["requested", "expired"]
    still = {r.id: r.status for r in store.list_requests("default")}
    assert still == {due.id: Status.EXPIRED, fresh.id: Status.PENDING, approved.id: Status.APPROVED}


def test_expired_requests_reload_identically(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    (moved,) = store.expire_due(T0 + timedelta(days=2))
    assert moved == replace(req, status=Status.EXPIRED, updated_at=T0 + timedelta(days=2))
