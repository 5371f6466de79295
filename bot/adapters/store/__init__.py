"""Persistence: the store, on SQLite (the default) or PostgreSQL (``APNS_DATABASE_URL``).

``RequestStore``, ``AuditLog``, ``NoticeStore`` and ``SignInStore`` are the roles callers depend on
(``bot.usecases.ports``); ``SqlStore`` plays all of them with one body of SQL, opened by
``SqliteStore`` or ``PostgresStore`` (``open_store`` picks from the settings). Schema changes go
in ``schema.MIGRATIONS`` and apply to both engines.
"""

from typing import TYPE_CHECKING

from bot.adapters.store.opening import open_store, store_label
from bot.adapters.store.schema import SCHEMA_VERSION
from bot.adapters.store.sql_store import SNAPSHOT_KEY, SqlStore
from bot.adapters.store.sqlite import SqliteStore

__all__ = [
    "SCHEMA_VERSION",
    "SNAPSHOT_KEY",
    "SqlStore",
    "SqliteStore",
    "open_store",
    "store_label",
]

if TYPE_CHECKING:  # mypy proves SqlStore plays every role of the port
    from bot.usecases.ports import Store

    def _conforms(store: SqlStore) -> Store:
        return store
