"""``apns-bot migrate-store``: a populated SQLite store copied into an empty one of every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.sealing import Sealer, generate_key
from bot.adapters.store import SCHEMA_VERSION, SqliteStore, SqlStore
from bot.adapters.store.copying import TABLES
from bot.config import Secret
from bot.core.requests import ApplyResult, Status
from bot.core.signin import PendingSignIn, SavedSignIn
from bot.errors import StoreError
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import CURRENT, T0, every_field_set, raw, request
from tests.adapters.store.interleave import Racer, pause_after
from tests.harness import UseEnv, apns_bot

KEY = Secret(generate_key())
LATER = T0 + timedelta(hours=1)


def populate(store: SqlStore) -> None:
    applied, waiting = request(), request(tenant="contoso", requester="UOTHER")
    store.create_request(applied)
    store.create_request(every_field_set())
    store.create_request(waiting)
    for user in ("UA", "UB"):
        store.add_approval(applied.id, user, LATER)
    store.transition(applied.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=1)
    store.transition(applied.id, Status.APPROVED, Status.APPLYING, LATER)
    result = ApplyResult(applied.topic, applied.serial, applied.not_after)
    store.transition(applied.id, Status.APPLYING, Status.APPLIED, LATER, result=result)
    store.audit("default", "reminder_posted", "system", LATER, detail={"threshold": "30"})
    store.mark_notice_once("default", "reminder:A:30", T0)
    store.mark_notice_once("contoso", "reminder:B:14", LATER)
    store.set_state("default", "retry:reminder:7", {"since": "t0"}, T0)
    store.set_snapshot("default", CURRENT, T0)
    store.save_signin(SavedSignIn("contoso", "UA", "a@contoso.com", "UA.home", "sealed", T0, T0))
    flow = PendingSignIn("contoso", "UB", "sealed-flow", 5, T0, LATER, T0)
    store.add_device_flow(flow)
    store.add_signin_wait(waiting.id, "contoso", "UB", T0)


def everything(store: SqlStore) -> dict[str, Any]:
    """What the store's callers can read, from every table."""
    tenants = ("default", "contoso")
    requests = {t: store.list_requests(t) for t in tenants}
    return {
        "requests": requests,
        "history": {t: [replace(e, id=0) for e in store.history(t, limit=100)] for t in tenants},
        "notices": {t: store.list_notices(t) for t in tenants},
        "state": store.list_states("retry:"),
        "snapshot": store.get_snapshot("default"),
        "signins": store.list_signins(),
        "flows": store.list_device_flows(),
        "waits": [store.signin_wait(r.id) for r in requests["contoso"]],
    }


def url_of(backend: Backend) -> str:
    return f"sqlite:///{backend.target}" if backend.name == "sqlite" else backend.target


def test_every_table_is_copied_once_and_a_second_copy_is_refused(
    backend: Backend, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old" / "apns-bot.sqlite3"
    with SqliteStore(source, sealer=Sealer([KEY])) as old:
        populate(old)
        before = everything(old)
    use_env({})

    assert (
        apns_bot(["migrate-store", "--from", f"sqlite:///{source}", "--to", url_of(backend)]) == 0
    )
    out = capsys.readouterr().out
    for counted in (
        "requests: 3",
        "approvals: 4",
        "history events: 9",
        "notice marks: 2",
        "state values: 2",
        "sealed sign-ins: 1",
        "device flows: 1",
        "sign-in waits: 1",
    ):
        assert counted in out
    with backend.open(Sealer([KEY])) as new:
        after = everything(new)
    assert after == before
    assert after["waits"] != [None]  # the wait survived, joined to its flow

    again = ["migrate-store", "--from", f"sqlite:///{source}", "--to", url_of(backend)]
    assert apns_bot(again) != 0
    assert "not empty" in capsys.readouterr().err


def test_a_missing_source_is_refused_before_anything_is_created(
    tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    missing, target = tmp_path / "nope.sqlite3", tmp_path / "new.sqlite3"
    assert (
        apns_bot(["migrate-store", "--from", f"sqlite:///{missing}", "--to", f"sqlite:///{target}"])
        != 0
    )
    assert "no SQLite store" in capsys.readouterr().err
    assert not missing.exists() and not target.exists()


def test_a_malformed_target_url_is_refused_without_echoing_it(
    tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    source = tmp_path / "old.sqlite3"
    SqliteStore(source).close()
    bad = "postgresql://apns:my secret@127.0.0.1/apns"
    assert apns_bot(["migrate-store", "--from", f"sqlite:///{source}", "--to", bad]) != 0
    out = capsys.readouterr()
    assert "not a valid PostgreSQL URL" in out.err
    assert "secret" not in out.err + out.out


def test_a_writer_cannot_slip_in_between_the_emptiness_check_and_the_copy(
    backend: Backend, tmp_path: Path
) -> None:
    with SqliteStore(tmp_path / "old.sqlite3") as old:
        populate(old)
        with backend.open() as target, backend.open() as replica:
            racer = Racer(lambda: replica.mark_notice_once("default", "reminder:early:30", T0))
            pause_after(target, "FROM notices", racer.start)
            counts = old.copy_into(target)
            assert racer.finish() is True
            # the replica's write waited for the copy: the target was empty all through it
            assert racer.held_off
            assert counts["notice marks"] == 2


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION - 1, SCHEMA_VERSION + 1])
def test_a_source_at_another_schema_version_is_refused_and_left_as_it_is(
    version: int, tmp_path: Path, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    source, target = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    if version:
        SqliteStore(source).close()
    raw(source, f"PRAGMA user_version = {version}")
    tables = raw(source, "SELECT name FROM sqlite_master ORDER BY name")
    assert (
        apns_bot(["migrate-store", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{target}"])
        != 0
    )
    err = capsys.readouterr().err
    assert ("not an apns-bot store" if version == 0 else f"schema version {version}") in err
    assert raw(source, "PRAGMA user_version") == [(version,)]
    assert raw(source, "SELECT name FROM sqlite_master ORDER BY name") == tables
    assert not target.exists()


def test_the_copy_covers_every_table_and_column_of_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "apns-bot.sqlite3"
    SqliteStore(path).close()
    names = raw(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    schema = {
        str(name): {str(c[1]) for c in raw(path, f"PRAGMA table_info({name})")}
        for (name,) in names
        if not str(name).startswith("sqlite_")
    }
    copied = {t.name: {c.strip() for c in t.columns.split(",")} for t in TABLES}
    # the AUTOINCREMENT id of audit_events is given anew on the target
    copied["audit_events"].add("id")
    assert copied == schema


def test_a_nul_character_postgresql_cannot_store_is_reported_by_table_and_row(
    backend: Backend, tmp_path: Path
) -> None:
    source = tmp_path / "old.sqlite3"
    with SqliteStore(source) as old:
        populate(old)
    raw(source, "UPDATE audit_events SET actor = ? WHERE id = 2", ("U\x00SECRET",))
    with SqliteStore(source, upgrade=False) as old, backend.open() as target:
        with pytest.raises(StoreError) as caught:
            old.copy_into(target)
        assert everything(target)["requests"] == {"default": [], "contoso": []}
    message = str(caught.value)
    assert "audit_events" in message and "Row 2" in message and "actor" in message
    assert "NUL" in message and "SECRET" not in message
