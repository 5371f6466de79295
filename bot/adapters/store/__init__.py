"""Persistence: the SQLite store.

``RequestStore``, ``AuditLog``, ``NoticeStore`` and ``SignInStore`` are the roles callers depend on
(``bot.usecases.ports``); ``SqliteStore`` plays all of them. Schema changes go in
``schema.MIGRATIONS``.
"""

from typing import TYPE_CHECKING

from bot.adapters.store.schema import SCHEMA_VERSION
from bot.adapters.store.sqlite import SNAPSHOT_KEY, SqliteStore

__all__ = [
    "SCHEMA_VERSION",
    "SNAPSHOT_KEY",
    "SqliteStore",
]

if TYPE_CHECKING:  # mypy proves SqliteStore plays every role of the port
    from bot.usecases.ports import Store

    def _conforms(store: SqliteStore) -> Store:
        return store
