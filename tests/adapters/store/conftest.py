"""The store contract suite runs against every backend: SQLite always, PostgreSQL when
``APNS_TEST_DATABASE_URL`` is set (``tests.pg``). A test takes ``store`` (open on a fresh
database) or ``backend`` (to open more stores on the same database, as replicas, or to read rows
the way an operator would)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.adapters.sealing import Sealer
from bot.adapters.store import SqliteStore, SqlStore
from bot.adapters.store.postgres import PostgresStore
from tests import pg
from tests.adapters.store.fixtures import raw

BACKENDS = ["sqlite", *(["postgresql"] if pg.URL else [])]


@dataclass(frozen=True)
class Backend:
    name: str
    target: str  # the SQLite file, or the PostgreSQL URL (with its own schema)

    def open(self, sealer: Sealer | None = None) -> SqlStore:
        if self.name == "sqlite":
            return SqliteStore(Path(self.target), sealer=sealer)
        return PostgresStore(self.target, sealer=sealer, pool_size=4)

    def raw(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement (``?`` placeholders) on a connection of its own, committed."""
        if self.name == "sqlite":
            return raw(Path(self.target), sql, params)
        with closing(psycopg.connect(self.target)) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "state" / "apns-bot.sqlite3"))
        return
    assert pg.URL is not None
    with pg.fresh_schema(pg.URL) as url:
        yield Backend("postgresql", url)


@pytest.fixture
def store(backend: Backend) -> Iterator[SqlStore]:
    with backend.open() as opened:
        yield opened
