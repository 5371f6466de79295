"""PostgreSQL only: the shared migrations, applied once under an advisory lock, and refusals."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from bot.adapters.store import SCHEMA_VERSION
from bot.adapters.store.postgres import PostgresStore
from bot.adapters.store.schema import migrate
from bot.errors import StoreError
from tests.clock import T0


def pg_columns(url: str) -> dict[str, list[str]]:
    with closing(psycopg.connect(url)) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name <> 'schema_version' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def sqlite_columns(path: Path) -> dict[str, list[str]]:
    with closing(sqlite3.connect(path)) as conn:
        conn.isolation_level = None
        migrate(conn, path)
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            name: [c[1] for c in conn.execute(f"PRAGMA table_info({name})")]
            for name in names
            if not name.startswith("sqlite_")
        }


def versions(url: str) -> list[int]:
    with closing(psycopg.connect(url)) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]


def test_one_list_of_migrations_gives_both_engines_the_same_tables(
    pg_url: str, tmp_path: Path
) -> None:
    with PostgresStore(pg_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
    on_pg = pg_columns(pg_url)
    on_sqlite = sqlite_columns(tmp_path / "s.sqlite3")
    # SQLite's implicit rowid is a real column on PostgreSQL (insertion order, e.g. approvals)
    assert {t: [c for c in cols if c != "rowid"] for t, cols in on_pg.items()} == on_sqlite
    assert versions(pg_url) == list(range(1, SCHEMA_VERSION + 1))


def test_replicas_starting_at_once_migrate_once(pg_url: str) -> None:
    def open_and_close(_: int) -> int:
        with PostgresStore(pg_url, pool_size=1) as store:
            return store.schema_version()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(open_and_close, range(6))) == [SCHEMA_VERSION] * 6
    assert versions(pg_url) == list(range(1, SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_bot_is_refused_untouched(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with closing(psycopg.connect(pg_url)) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
        conn.commit()
    with pytest.raises(StoreError, match=r"newer apns-bot.*schema version 99") as caught:
        PostgresStore(pg_url)
    assert "APNS_DATABASE_URL" in str(caught.value)
    assert versions(pg_url)[-1] == 99


def test_doctor_s_write_probe_leaves_nothing_behind(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.probe_write(T0)
        assert store.list_states("doctor:") == []
