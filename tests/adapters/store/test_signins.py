"""The store's delegated sign-in rows, and the approved certificate sealed at rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.sealing import Sealer, generate_key
from bot.adapters.store import SqlStore
from bot.adapters.store.resealing import Sealed
from bot.config import Secret
from bot.core.signin import PendingSignIn, SavedSignIn
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import PEM, PEM_BODY, T0, request

KEY = Secret(generate_key())


def saved(user: str = "ULEAD", *, at: datetime = T0, cache: str = "sealed-cache") -> SavedSignIn:
    return SavedSignIn(
        "default", user, f"{user.lower()}@contoso.com", f"{user}.home", cache, at, at
    )


def flow(user: str = "ULEAD", *, due: datetime = T0) -> PendingSignIn:
    return PendingSignIn(
        "default", user, "sealed-flow", 5, due, T0 + timedelta(minutes=15), T0 - timedelta(1)
    )


@pytest.fixture
def store(backend: Backend) -> Iterator[SqlStore]:
    with backend.open(Sealer([KEY])) as opened:
        yield opened


def test_saved_sign_ins_are_listed_most_recent_first_and_replaced_per_user(
    store: SqlStore,
) -> None:
    store.save_signin(saved("UA", at=T0))
    store.save_signin(saved("UB", at=T0 + timedelta(hours=1)))
    assert [s.user_id for s in store.list_signins("default")] == ["UB", "UA"]
    assert store.update_signin_cache("default", "UA", "UA.home", "newer", T0 + timedelta(hours=2))
    assert [s.user_id for s in store.list_signins()] == ["UA", "UB"]
    assert store.get_signin("default", "UA") == SavedSignIn(
        "default", "UA", "ua@contoso.com", "UA.home", "newer", T0, T0 + timedelta(hours=2)
    )
    store.save_signin(saved("UA", at=T0 + timedelta(hours=3), cache="again"))
    again = store.get_signin("default", "UA")
    assert again is not None and again.sealed_cache == "again" and again.signed_in_at > T0
    assert store.list_signins("other") == []


def test_a_refresh_never_resurrects_a_sign_in_removed_meanwhile(store: SqlStore) -> None:
    store.save_signin(saved("UA"))
    assert store.delete_signin("default", "UA", "UA.home")
    assert not store.update_signin_cache("default", "UA", "UA.home", "late", T0)
    assert store.get_signin("default", "UA") is None
    store.save_signin(saved("UA"))
    assert not store.delete_signin("default", "UA", "another.account")
    assert store.delete_signin("default", "UA")
    assert not store.delete_signin("default", "UA")


def test_one_flow_per_person_and_only_due_flows_are_listed(store: SqlStore) -> None:
    assert store.add_device_flow(flow("UA", due=T0))
    assert not store.add_device_flow(flow("UA", due=T0 + timedelta(hours=1)))
    assert store.add_device_flow(flow("UB", due=T0 + timedelta(seconds=30)))
    assert [f.user_id for f in store.list_device_flows(due_by=T0)] == ["UA"]
    assert [f.user_id for f in store.list_device_flows("default")] == ["UA", "UB"]
    assert store.get_device_flow("default", "UB") == flow("UB", due=T0 + timedelta(seconds=30))


def test_a_due_poll_is_claimed_by_exactly_one_of_many(store: SqlStore) -> None:
    store.add_device_flow(flow("UA"))
    [due] = store.list_device_flows(due_by=T0)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda _: store.claim_device_flow(due, T0 + timedelta(60)), range(8)))
    assert won.count(True) == 1
    assert store.list_device_flows(due_by=T0) == []
    assert store.reschedule_device_flow(due, "sealed-2", 10, T0 + timedelta(seconds=10))
    rescheduled = store.get_device_flow("default", "UA")
    assert rescheduled is not None and (rescheduled.interval, rescheduled.sealed_flow) == (
        10,
        "sealed-2",
    )


def test_finishing_a_flow_hands_its_waiting_requests_to_one_caller(store: SqlStore) -> None:
    first, second = request(), request()
    store.create_request(first)
    store.create_request(second)
    store.add_device_flow(flow("UA"))
    store.add_signin_wait(first.id, "default", "UA", T0)
    store.add_signin_wait(second.id, "default", "UA", T0 + timedelta(seconds=1))
    wait = store.signin_wait(first.id)
    assert wait is not None and (wait.user_id, wait.expires_at) == ("UA", flow().expires_at)
    assert store.finish_device_flow("default", "UA") == (first.id, second.id)
    assert store.finish_device_flow("default", "UA") is None
    assert store.signin_wait(first.id) is None
    assert store.add_device_flow(flow("UA"))
    store.add_signin_wait(first.id, "default", "UA", T0)
    assert store.remove_signin_wait(first.id)
    assert store.finish_device_flow("default", "UA") == ()


def test_the_certificate_is_sealed_in_the_database_and_read_back_in_the_clear(
    backend: Backend, store: SqlStore
) -> None:
    req = request()
    store.create_request(req)
    assert store.get_request(req.id) == req
    assert [r.certificate_pem for r in store.list_requests("default")] == [PEM]
    [(column,)] = backend.raw("SELECT certificate_pem FROM change_requests")
    assert isinstance(column, str) and column.startswith("sealed:v1:") and PEM_BODY not in column
    if backend.name == "sqlite":  # nor anywhere in the file, its WAL or shared memory
        path = Path(backend.target)
        stored = b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))
        assert PEM_BODY.encode() not in stored


def test_plain_rows_from_before_stay_readable_and_foreign_ones_come_back_empty(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    plain, sealed = request(), request()
    with backend.open() as before:
        before.create_request(plain)
    with backend.open(Sealer([Secret(generate_key())])) as other:
        other.create_request(sealed)
    with caplog.at_level(logging.WARNING), backend.open(Sealer([KEY])) as now:
        assert now.get_request(plain.id) == plain
        unreadable = now.get_request(sealed.id)
        assert unreadable is not None and unreadable.certificate_pem == ""
        assert len(now.list_requests("default")) == 2  # a foreign row never breaks a listing
    with backend.open() as keyless:
        missing = keyless.get_request(sealed.id)
        assert missing is not None and missing.certificate_pem == ""
    assert sealed.id in caplog.text and "APNS_TOKEN_KEY" in caplog.text


def test_every_sealed_value_is_rewritten_in_one_pass_and_a_dry_run_writes_nothing(
    store: SqlStore,
) -> None:
    store.create_request(request())
    store.save_signin(saved(cache="cache-v1"))
    store.add_device_flow(flow())

    def again(kind: Sealed, value: str) -> str | None:
        return None if value.endswith("-v2") else f"{value}-v2"

    counted = store.rewrite_sealed(again, write=False)
    assert counted == {Sealed.SIGNIN: 1, Sealed.DEVICE_FLOW: 1, Sealed.CERTIFICATE: 1}
    signin = store.get_signin("default", "ULEAD")
    assert signin is not None and signin.sealed_cache == "cache-v1"  # a dry run
    assert store.rewrite_sealed(again) == counted
    signin = store.get_signin("default", "ULEAD")
    pending = store.get_device_flow("default", "ULEAD")
    assert signin is not None and signin.sealed_cache == "cache-v1-v2"
    assert pending is not None and pending.sealed_flow == "sealed-flow-v2"
    assert store.rewrite_sealed(again) == dict.fromkeys(Sealed, 0)
