"""Which store the settings name: PostgreSQL at ``APNS_DATABASE_URL``, else SQLite at ``APNS_DB_PATH``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.adapters.store.sql_store import SqlStore
from bot.adapters.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bot.adapters.sealing import Sealer
    from bot.config import Settings


def open_store(
    settings: Settings, *, sealer: Sealer | None = None, upgrade: bool = True
) -> SqlStore:
    """Open (and, unless ``upgrade=False``, migrate) the configured store; ``StoreError`` when it
    cannot be used."""
    if settings.database_url is not None:
        from bot.adapters.store.postgres import PostgresStore  # psycopg only when configured

        return PostgresStore(settings.database_url.reveal(), sealer=sealer, upgrade=upgrade)
    return SqliteStore(settings.db_path, sealer=sealer, upgrade=upgrade)


def store_label(settings: Settings) -> str:
    """The configured store for messages, without any password."""
    if settings.database_url is not None:
        from bot.adapters.store.postgres import display_url

        return display_url(settings.database_url.reveal())
    return str(settings.db_path)
