"""The database schema as an ordered list of migrations, tracked in ``PRAGMA user_version``.

The same list migrates PostgreSQL (``pg_schema``: each statement translated, the version kept in
a ``schema_version`` table): one schema, one story, two engines.

Migration *n* (1-based) brings a database from version *n-1* to *n*. Append new migrations to
``MIGRATIONS``; never edit or reorder one that has shipped. Each is a tuple of single SQL
statements run inside one ``BEGIN IMMEDIATE`` transaction together with the version bump, so
replicas starting at the same moment migrate once and a crash leaves the previous version intact.

Every table carries ``tenant`` so one database serves many tenants. Times are ISO 8601 UTC text
with microseconds (``2026-01-31T09:00:00.000000+00:00``), which sorts like the instants it names.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.errors import StoreError

_STATUSES = "'pending','approved','applying','applied','failed','rejected','expired','cancelled'"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: change requests, approvals, audit trail, once-only notices, per-tenant state
    (
        f"""CREATE TABLE change_requests (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            requester TEXT NOT NULL,
            apple_id TEXT NOT NULL,
            certificate_pem TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            topic TEXT NOT NULL,
            serial TEXT NOT NULL,
            not_after TEXT NOT NULL,
            warnings TEXT NOT NULL DEFAULT '[]',
            reason TEXT,
            current_snapshot TEXT,
            status TEXT NOT NULL CHECK (status IN ({_STATUSES})),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            rejected_by TEXT,
            rejected_at TEXT,
            rejection_reason TEXT,
            message_channel TEXT,
            message_ts TEXT,
            applied_topic TEXT,
            applied_serial TEXT,
            applied_expiry TEXT,
            failure_code TEXT,
            failure_message TEXT,
            failure_request_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
        )""",
        "CREATE INDEX change_requests_by_tenant ON change_requests (tenant, created_at)",
        "CREATE INDEX change_requests_by_status ON change_requests (status, expires_at)",
        """CREATE TABLE approvals (
            request_id TEXT NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE (request_id, user_id)
        )""",
        """CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            request_id TEXT REFERENCES change_requests (id) ON DELETE SET NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            event TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX audit_events_by_tenant ON audit_events (tenant, id)",
        "CREATE INDEX audit_events_by_request ON audit_events (request_id, id)",
        """CREATE TABLE notices (
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (tenant, key)
        )""",
        """CREATE TABLE tenant_state (
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (tenant, key)
        )""",
    ),
    # 2: delegated sign-in — each approver's MSAL token cache and pending device code flows, both
    # sealed with APNS_TOKEN_KEY (bot.adapters.sealing), and the requests waiting for a sign-in
    (
        """CREATE TABLE delegated_signins (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            username TEXT NOT NULL,
            home_account_id TEXT NOT NULL,
            sealed_cache TEXT NOT NULL,
            signed_in_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (tenant, user_id)
        )""",
        "CREATE INDEX delegated_signins_by_recency ON delegated_signins (tenant, updated_at)",
        """CREATE TABLE device_flows (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            sealed_flow TEXT NOT NULL,
            interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
            next_poll_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (tenant, user_id)
        )""",
        "CREATE INDEX device_flows_due ON device_flows (next_poll_at)",
        """CREATE TABLE signin_waits (
            request_id TEXT PRIMARY KEY REFERENCES change_requests (id) ON DELETE CASCADE,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX signin_waits_by_user ON signin_waits (tenant, user_id)",
    ),
    # 3: a request may renew an ADE or Apps and Books (VPP) token instead of the push certificate:
    # what it renews, as JSON (NULL: the push certificate). The token file itself goes in the
    # sealed certificate_pem column, the request's payload whatever its kind.
    ("ALTER TABLE change_requests ADD COLUMN token_change TEXT",),
)

SCHEMA_VERSION = len(MIGRATIONS)


def too_new(
    where: object, version: int, setting: str = "APNS_DB_PATH at another file"
) -> StoreError:
    """The refusal for a database a newer apns-bot wrote (on either engine)."""
    return StoreError(
        f"The database {where} was written by a newer apns-bot (schema version {version}; this "
        f"version understands up to {SCHEMA_VERSION}). Upgrade apns-bot, or point {setting}."
    )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database up to ``SCHEMA_VERSION``; return the version it had before.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises ``StoreError`` for a
    database from a newer apns-bot, leaving it untouched.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise too_new(path, version)
    if version == SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another replica may have migrated meanwhile.
        before = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if before > SCHEMA_VERSION:
            raise too_new(path, before)
        for number in range(before + 1, SCHEMA_VERSION + 1):
            try:
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"Upgrading the database {path} to schema version {number} failed ({exc}); "
                    f"it was left at version {before}."
                ) from exc
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return before
