"""Persistence: the ``Store`` port and its SQLite implementation.

``RequestStore``, ``AuditLog`` and ``NoticeStore`` are the roles callers depend on;
``SqliteStore`` plays all of them. Schema changes go in ``schema.MIGRATIONS``.
"""

from typing import TYPE_CHECKING

from bot.adapters.store.port import AuditLog, NoticeStore, RequestStore, SignInStore, Store
from bot.adapters.store.schema import SCHEMA_VERSION
from bot.adapters.store.sqlite import SNAPSHOT_KEY, SqliteStore

__all__ = [
    "SCHEMA_VERSION",
    "SNAPSHOT_KEY",
    "AuditLog",
    "NoticeStore",
    "RequestStore",
    "SignInStore",
    "SqliteStore",
    "Store",
]

if TYPE_CHECKING:  # mypy proves SqliteStore plays every role of the port

    def _conforms(store: SqliteStore) -> Store:
        return store
