"""SqliteStore's file: creation, settings, migrations, versions from the future, closing."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.adapters.store import SCHEMA_VERSION, SqliteStore, schema
from bot.adapters.store.pg_schema import to_postgres
from bot.errors import StoreError
from tests.adapters.store.fixtures import T0, raw, request

TABLES = {
    "change_requests",
    "approvals",
    "audit_events",
    "notices",
    "tenant_state",
    "delegated_signins",
    "device_flows",
    "signin_waits",
}


def tables(path: Path) -> set[str]:
    rows = raw(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows} - {"sqlite_sequence"}


def test_creates_parent_directory_and_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.sqlite3"
    with SqliteStore(path):
        pass
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tables(path) == TABLES


def test_connection_settings_are_in_force(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite3", busy_timeout=7.5) as store:
        assert store.pragmas() == {
            "journal_mode": "wal",
            "synchronous": 2,  # FULL
            "foreign_keys": 1,
            "busy_timeout": 7500,
            "user_version": SCHEMA_VERSION,
        }
    # WAL is a property of the file: a plain connection sees it too
    assert raw(tmp_path / "s.sqlite3", "PRAGMA journal_mode") == [("wal",)]


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite3") as store, pytest.raises(StoreError):
        store.audit("default", "approved", "UA", T0, request_id="req_missing")


def test_empty_file_is_migrated_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.touch()
    req = request()
    with SqliteStore(path) as store:
        store.create_request(req)
        assert store.mark_notice_once("default", "reminder:30", T0)
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    with SqliteStore(path) as again:
        assert again.get_request(req.id) == req
        assert not again.mark_notice_once("default", "reminder:30", T0)
        assert again.pragmas()["user_version"] == SCHEMA_VERSION


def test_a_later_migration_upgrades_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    req = request()
    with SqliteStore(path) as store:
        store.create_request(req)
    extra = (
        "CREATE TABLE later_feature (tenant TEXT NOT NULL, user_id TEXT NOT NULL, state BLOB)",
        "ALTER TABLE change_requests ADD COLUMN signed_in_as TEXT",
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with SqliteStore(path) as upgraded:
        assert upgraded.pragmas()["user_version"] == SCHEMA_VERSION + 1
        assert upgraded.get_request(req.id) == req
    assert "device_flows" in tables(path)


def test_a_failing_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite3"
    with SqliteStore(path):
        pass
    broken = ("CREATE TABLE half_done (x TEXT)", "THIS IS NOT SQL")
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"version {SCHEMA_VERSION + 1} failed"):
        SqliteStore(path)
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert "half_done" not in tables(path)


def test_a_database_from_a_newer_bot_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with SqliteStore(path):
        pass
    raw(path, f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    with pytest.raises(StoreError, match="newer apns-bot") as caught:
        SqliteStore(path)
    assert f"schema version {SCHEMA_VERSION + 3}" in caught.value.user_message
    assert str(path) in caught.value.user_message
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION + 3,)]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite " * 64)
    with pytest.raises(StoreError, match="not an apns-bot database"):
        SqliteStore(path)


def test_an_unusable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Cannot create"):
        SqliteStore(blocker / "sub" / "s.sqlite3")


def test_replicas_opening_a_fresh_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    barrier = threading.Barrier(6)

    def open_and_close(_: int) -> int:
        barrier.wait(timeout=30)
        with SqliteStore(path) as store:
            return int(store.pragmas()["user_version"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(open_and_close, range(6)))
    assert versions == [SCHEMA_VERSION] * 6
    assert tables(path) == TABLES


def test_close_is_idempotent_and_use_after_close_is_an_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_request("req_x")


def test_the_postgresql_translation_spares_string_literals_and_indented_statements() -> None:
    statement = """
        CREATE TABLE notes (
            body TEXT NOT NULL DEFAULT 'TEXT here',
            kind TEXT CHECK (kind IN ('TEXT', 'note'))
        )"""
    translated = to_postgres(statement)
    assert "rowid BIGINT GENERATED ALWAYS AS IDENTITY" in translated
    assert translated.count('TEXT COLLATE "C"') == 2
    assert "DEFAULT 'TEXT here'" in translated and "('TEXT', 'note')" in translated
