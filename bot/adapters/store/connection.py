"""Opening the SQLite file and running transactions on it from many threads and processes.

One connection per ``Database``, opened with ``check_same_thread=False`` and guarded by a lock.
Why not a connection per thread: Bolt's listener threads and the bot's executor come and go, and
a thread-local connection can only be closed from the thread that made it, so ``close()`` could
not release them (pytest turns the leak into an error) and a long-running process would collect
connections. The lock costs nothing measurable: every statement here touches a handful of rows,
and SQLite admits one writer at a time anyway. Separate processes (replicas) each hold their own
connection; SQLite's file locks, ``BEGIN IMMEDIATE`` and the busy timeout order them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.adapters.store.schema import migrate
from bot.adapters.store.sql import Conn
from bot.errors import StoreError

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds a writer waits for another process's write to finish
_REPORTED = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version")


def _fail(path: Path, exc: BaseException) -> StoreError:
    return StoreError(f"The database {path} could not be used: {exc}")


def _create_file(path: Path) -> None:
    """Create the parent directory and an empty database file readable by its owner only.

    SQLite gives the ``-wal`` and ``-shm`` files the main file's permissions.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(f"Cannot create the database {path}: {exc.strerror or exc}") from exc


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Switch the file to WAL (once; it sticks to the file).

    Changing the journal mode needs the file to itself and SQLite does not always wait for that
    through the busy handler: when replicas open a fresh file together, retry until the timeout.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            if mode.lower() != "wal":
                mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    if mode.lower() != "wal":
        raise StoreError(
            f"The database {path} cannot use write-ahead logging (journal mode {mode}); "
            "put it on a local file system."
        )


def _connect(path: Path, busy_timeout: float, upgrade: bool = True) -> sqlite3.Connection:
    _create_file(path)
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise _fail(path, exc) from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        _enable_wal(conn, path, busy_timeout)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if upgrade:
            migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"The database {path} is not an apns-bot database, is damaged, or is locked ({exc})."
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """A migrated SQLite file, with transactions serialised across threads (``sql.Database``).

    A write transaction holds SQLite's one write lock from its first statement, so nothing it
    reads can change before it commits: ``for_update`` is empty and ``lock`` has nothing to add.
    """

    for_update = ""

    def __init__(
        self, path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, *, upgrade: bool = True
    ) -> None:
        """``upgrade=False`` leaves the schema as it is (``doctor``, a ``migrate-store`` source)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = _connect(self.path, busy_timeout, upgrade)

    def close(self) -> None:
        """Close the connection (idempotent); later calls raise ``StoreError``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def lock(self, conn: Conn, name: str) -> None:
        """Nothing to do: the write transaction already excludes every other writer."""

    def lock_tables(self, conn: Conn, tables: Sequence[str]) -> None:
        """Nothing to do: the write transaction already excludes every other writer."""

    def schema_version(self) -> int:
        return int(self.pragmas()["user_version"])

    @property
    def closed(self) -> bool:
        return self._conn is None

    def pragmas(self) -> dict[str, str | int]:
        """The connection's effective settings, for ``doctor`` and tests."""
        with self.transaction(write=False) as conn:
            values = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in _REPORTED}
        return {name: v if isinstance(v, int) else str(v) for name, v in values.items()}

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction: ``BEGIN IMMEDIATE`` to write, ``BEGIN`` to read.

        A write transaction takes SQLite's write lock up front, so everything it reads stays true
        until it commits, in this process and in every other one. ``sqlite3`` errors come out as
        ``StoreError``; any exception rolls the transaction back.
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("The database has been closed.")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise _fail(self.path, exc) from exc
            try:
                yield conn
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _fail(self.path, exc) from exc
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise _fail(self.path, exc) from exc
