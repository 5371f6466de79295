"""The store contract, on every backend: audit trail, once-only notices and per-tenant state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.adapters.store import SNAPSHOT_KEY, SqlStore
from bot.core.model import TenantCertificate
from bot.core.requests import ApplyResult, JSONValue, Rejection, Status
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import (
    CURRENT,
    NOT_AFTER,
    PEM,
    PEM_BODY,
    T0,
    request,
)

LATER = T0 + timedelta(hours=1)


# --- audit --------------------------------------------------------------------------------------


def test_history_is_per_tenant_newest_first(store: SqlStore) -> None:
    for i in range(5):
        store.audit("default", "reminder_posted", "system", T0 + timedelta(days=i), detail={"i": i})
    store.audit("contoso", "check_failed", "system", T0, detail={"status": 403})
    latest = store.history("default", limit=3)
    assert [e.detail["i"] for e in latest] == [4, 3, 2]
    assert latest[0].at == T0 + timedelta(days=4) and latest[0].actor == "system"
    (other,) = store.history("contoso")
    assert (other.event, other.tenant, other.request_id, other.detail) == (
        "check_failed",
        "contoso",
        None,
        {"status": 403},
    )


def test_request_creation_is_audited_with_facts_not_the_certificate(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    (event,) = store.history("default", request_id=req.id)
    assert (event.event, event.actor, event.at) == ("requested", "UREQ", req.created_at)
    assert event.detail == {
        "apple_id": req.apple_id,
        "topic": req.topic,
        "serial": req.serial,
        "not_after": NOT_AFTER.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "sha256": req.sha256,
    }


@pytest.mark.parametrize(
    "detail",
    [
        {"certificate": "MIIB"},
        {"certificate_pem": "x"},
        {"pem": "x"},
        {"Certificate": "x"},
        {"accessToken": "x"},
        {"refresh_token": "x"},
        {"client-secret": "x"},
        {"password": "x"},
        {"device_code": "x"},
        {"private_key": "x"},
        {"client_assertion": "x"},
        {"outer": {"inner": {"id_token": "x"}}},
        {"note": PEM},
        {"files": ["a", {"text": "-----BEGIN PRIVATE KEY-----\nMII"}]},
        {"blob": "x" * 5000},
    ],
)
def test_audit_refuses_details_that_could_carry_a_certificate_or_secret(
    store: SqlStore, detail: dict[str, JSONValue]
) -> None:
    with pytest.raises(ValueError):
        store.audit("default", "external_change", "system", T0, detail=detail)
    assert store.history("default") == []


@pytest.mark.parametrize("event", ["", "Approved", "approved!", "a", "drop table"])
def test_audit_refuses_odd_event_names(store: SqlStore, event: str) -> None:
    with pytest.raises(ValueError, match="lower_snake_case"):
        store.audit("default", event, "system", T0)
    with pytest.raises(ValueError, match="lower_snake_case"):
        store.transition("req_x", Status.FAILED, Status.APPLIED, T0, event=event)


def test_a_whole_renewal_leaves_no_certificate_body_in_the_audit_trail(
    store: SqlStore, backend: Backend
) -> None:
    req, rejected = request(), request()
    store.create_request(req)
    store.create_request(rejected)
    store.add_approval(req.id, "UA", LATER)
    store.transition(req.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=1)
    store.transition(req.id, Status.APPROVED, Status.APPLYING, LATER, actor="UA")
    store.transition(
        req.id, Status.APPLYING, Status.APPLIED, LATER,
        result=ApplyResult(req.topic, req.serial, req.not_after),
    )  # fmt: skip
    pasted = Rejection("UB", LATER, f"this one instead:\n{PEM}")
    store.transition(rejected.id, Status.PENDING, Status.REJECTED, LATER, rejection=pasted)

    audit_rows = backend.raw("SELECT * FROM audit_events")
    assert len(audit_rows) == 7
    assert not any(PEM_BODY in str(value) for row in audit_rows for value in row)
    assert not any("BEGIN" in str(value) for row in audit_rows for value in row)
    assert store.history("default", limit=1)[0].detail["reason"].startswith("[withheld")  # type: ignore[union-attr]


def test_long_rejection_reasons_are_shortened_in_the_audit_detail(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    reason = "no " * 400
    assert store.transition(
        req.id, Status.PENDING, Status.REJECTED, LATER, rejection=Rejection("UB", LATER, reason)
    )
    stored = store.get_request(req.id)
    assert stored is not None and stored.rejection is not None
    assert stored.rejection.reason == reason  # the request keeps it whole
    quoted = store.history("default", limit=1)[0].detail["reason"]
    assert isinstance(quoted, str) and len(quoted) == 500 and quoted.endswith("…")


# --- notices ------------------------------------------------------------------------------------


def test_a_notice_is_marked_once_per_tenant_across_reopen(backend: Backend) -> None:
    key = "reminder:0B7002EFEA6BA6D0:2026-03-20T08:00:00+00:00:30"
    with backend.open() as store:
        assert store.mark_notice_once("default", key, T0)
        assert not store.mark_notice_once("default", key, LATER)
        assert store.mark_notice_once("contoso", key, LATER)
    with backend.open() as reopened:
        assert not reopened.mark_notice_once("default", key, LATER)
        assert reopened.list_notices("default") == [(key, T0)]


def test_list_notices_by_prefix(store: SqlStore) -> None:
    store.mark_notice_once("default", "reminder:A:30", T0)
    store.mark_notice_once("default", "reminder:A:14", LATER)
    store.mark_notice_once("default", "reminder:B:30", LATER + timedelta(1))
    store.mark_notice_once("default", "check_failed:2026-03-01", T0)
    assert [k for k, _ in store.list_notices("default", "reminder:A:")] == [
        "reminder:A:30",
        "reminder:A:14",
    ]
    assert len(store.list_notices("default", "reminder:")) == 3
    assert store.list_notices("default", "reminder:%") == []  # no LIKE wildcards
    with pytest.raises(ValueError):
        store.mark_notice_once("default", "", T0)


# --- per-tenant state ---------------------------------------------------------------------------


def test_state_set_get_only_if_absent_and_delete(store: SqlStore) -> None:
    assert store.get_state("default", "check_failing") is None
    since: JSONValue = {"since": T0.isoformat(), "code": "Forbidden", "n": [1, 2.5]}
    assert store.set_state("default", "check_failing", since, T0, only_if_absent=True)
    assert not store.set_state(
        "default", "check_failing", {"since": "later"}, LATER, only_if_absent=True
    )
    assert store.get_state("default", "check_failing") == since
    assert store.get_state("contoso", "check_failing") is None
    assert store.set_state("default", "check_failing", {"since": "x"}, LATER)
    assert store.get_state("default", "check_failing") == {"since": "x"}
    assert store.delete_state("default", "check_failing")
    assert not store.delete_state("default", "check_failing")  # only one replica says "recovered"
    assert store.get_state("default", "check_failing") is None


def test_states_are_listed_by_key_prefix_across_tenants(store: SqlStore) -> None:
    store.set_state("fabrikam", "retry:reminder:7", {"refused": "a"}, T0)
    store.set_state("contoso", "retry:change:1", {"refused": "b"}, LATER)
    store.set_state("contoso", "check_failing", {"since": "c"}, T0)
    assert store.list_states("retry:") == [
        ("contoso", "retry:change:1", {"refused": "b"}, LATER),
        ("fabrikam", "retry:reminder:7", {"refused": "a"}, T0),
    ]
    assert store.list_states("nothing:") == []
    assert store.list_states("retry:", "fabrikam") == [
        ("fabrikam", "retry:reminder:7", {"refused": "a"}, T0)
    ]
    with pytest.raises(ValueError):
        store.list_states("")  # every tenant's every state is not a question the bot asks


def test_of_two_claims_on_the_same_mark_only_one_wins(store: SqlStore) -> None:
    refused: JSONValue = {"refused": "t0", "since": "t0"}
    store.set_state("default", "retry:reminder:30", refused, T0)
    first = store.replace_state("default", "retry:reminder:30", refused, {"posting": "a"}, LATER)
    second = store.replace_state("default", "retry:reminder:30", refused, {"posting": "b"}, LATER)
    assert (first, second) == (True, False)
    assert store.get_state("default", "retry:reminder:30") == {"posting": "a"}
    assert not store.replace_state("default", "absent", None, {"x": 1}, LATER)
    assert not store.delete_state("default", "retry:reminder:30", expected=refused)  # rewritten
    assert store.delete_state("default", "retry:reminder:30", expected={"posting": "a"})
    assert store.list_states("retry:", "default") == []


def test_snapshot_round_trips_and_its_key_is_reserved(backend: Backend) -> None:
    with backend.open() as store:
        assert store.get_snapshot("default") is None
        store.set_snapshot("default", CURRENT, T0)
        renewed = TenantCertificate("mdm@example.com", CURRENT.topic, "1C2D", T0 + timedelta(365))
        store.set_snapshot("contoso", renewed, T0)
        with pytest.raises(ValueError, match="reserved"):
            store.set_state("default", SNAPSHOT_KEY, {}, T0)
    with backend.open() as reopened:
        assert reopened.get_snapshot("default") == CURRENT
        assert reopened.get_snapshot("contoso") == renewed


def test_a_snapshot_is_deleted_for_one_tenant_by_one_caller(backend: Backend) -> None:
    with backend.open() as store:
        assert not store.delete_snapshot("default")  # nothing stored
        store.set_snapshot("default", CURRENT, T0)
        store.set_snapshot("contoso", CURRENT, T0)
        store.set_state("default", "check_failing", {"since": "t0"}, T0)
        assert store.delete_snapshot("default")
        assert not store.delete_snapshot("default")  # of two replicas, one dropped it
        assert store.get_snapshot("default") is None
        assert store.get_state("default", "check_failing") == {"since": "t0"}  # state untouched
    with backend.open() as reopened:
        assert reopened.get_snapshot("default") is None
        assert reopened.get_snapshot("contoso") == CURRENT
        reopened.set_snapshot("default", CURRENT, LATER)  # the next one starts afresh
        assert reopened.get_snapshot("default") == CURRENT
