"""``SqliteStore``: the ``Store`` port on one SQLite file, shared by threads and replicas on one host.

The SQL is ``SqlStore``'s; this opens the file (``connection.Database``: WAL, ``synchronous=FULL``,
foreign keys on, migrated to ``schema.SCHEMA_VERSION``) and reports its settings to ``doctor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.store.connection import DEFAULT_BUSY_TIMEOUT, Database
from bot.adapters.store.sql_store import SNAPSHOT_KEY, SqlStore

if TYPE_CHECKING:
    from bot.adapters.sealing import Sealer

__all__ = ["SNAPSHOT_KEY", "SqliteStore"]


class SqliteStore(SqlStore):
    """The bot's state in one SQLite file; safe between threads, and between processes on one
    host (never on a network file system: use ``PostgresStore`` for replicas on several hosts)."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        sealer: Sealer | None = None,
        upgrade: bool = True,
    ) -> None:
        db = Database(path, busy_timeout, upgrade=upgrade)
        super().__init__(db, sealer=sealer)
        self._file = db
        self.path = db.path

    def pragmas(self) -> dict[str, str | int]:
        """Effective ``journal_mode``, ``synchronous`` (2 = FULL), ``foreign_keys``, …"""
        return self._file.pragmas()
