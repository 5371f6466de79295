"""What the store's SQL needs from a database, so one body of SQL serves SQLite and PostgreSQL.

The statements in ``statements``, ``notices``, ``signins`` and ``resealing`` are written once, in
the SQL both engines speak (``?`` placeholders, ``INSERT … ON CONFLICT``, ``RETURNING``), and run
on a ``Conn``: a ``sqlite3.Connection`` as it is, or ``bot.adapters.store.postgres.PgConn`` (which
turns ``?`` into psycopg's ``%s``). Rows are read by column name only (``sqlite3.Row`` or a dict).

What differs is how a transaction keeps what it read true until it commits. SQLite's
``BEGIN IMMEDIATE`` takes the one write lock up front; PostgreSQL locks rows and names:
``Database.for_update`` is appended to a read that a write transaction will act on (empty on
SQLite), and ``Database.lock`` takes a transaction-scoped lock on a name (a no-op on SQLite,
``pg_advisory_xact_lock`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Row(Protocol):
    """A result row, read by column name (``sqlite3.Row``, or psycopg's ``dict_row``)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


class Database(Protocol):
    """A migrated database: transactions on it, and the two locking words that differ."""

    @property
    def for_update(self) -> str:
        """Appended to a SELECT whose rows the transaction goes on to change."""

    def lock(self, conn: Conn, name: str) -> None:
        """Hold ``name`` until the transaction ends: one holder at a time, across processes."""

    def lock_tables(self, conn: Conn, tables: Sequence[str]) -> None:
        """Keep every other writer out of ``tables`` until the transaction ends (``LOCK TABLE …
        IN EXCLUSIVE MODE`` on PostgreSQL; SQLite's write transaction already does)."""

    def transaction(self, *, write: bool) -> AbstractContextManager[Conn]: ...

    def schema_version(self) -> int:
        """The version of ``schema.MIGRATIONS`` the database is at."""

    def close(self) -> None: ...
