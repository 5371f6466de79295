"""Once-only notices and per-tenant state: SQL run inside a transaction the caller opened.

The expiry watch keys reminders as it likes (e.g. ``reminder:<serial>:<expiry>:<days>``): a key
is marked once per tenant, ever, so a threshold is posted once per certificate across restarts
and replicas, and a renewed certificate (new serial and expiry) starts afresh. State values are
small JSON documents: the last certificate seen, "check failing since", and the like.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.adapters.store.codec import dumps, from_text, to_text
from bot.adapters.store.sql import Conn
from bot.core.requests import JSONValue


def _check_key(tenant: str, key: str) -> None:
    if not tenant or not key:
        raise ValueError("tenant and key must be non-empty")


def mark_once(conn: Conn, tenant: str, key: str, at: datetime) -> bool:
    _check_key(tenant, key)
    cur = conn.execute(
        "INSERT INTO notices (tenant, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (tenant, key, to_text(at)),
    )
    return cur.rowcount == 1


def marked(conn: Conn, tenant: str, prefix: str) -> list[tuple[str, datetime]]:
    rows = conn.execute(
        "SELECT key, at FROM notices WHERE tenant = ? AND substr(key, 1, ?) = ? ORDER BY at, key",
        (tenant, len(prefix), prefix),
    ).fetchall()
    return [(str(row["key"]), from_text(row["at"])) for row in rows]


def forget(conn: Conn, tenant: str, prefix: str, before: datetime) -> int:
    cur = conn.execute(
        "DELETE FROM notices WHERE tenant = ? AND substr(key, 1, ?) = ? AND at < ?",
        (tenant, len(prefix), prefix, to_text(before)),
    )
    return cur.rowcount


def with_prefix(
    conn: Conn, prefix: str, tenant: str | None = None
) -> list[tuple[str, str, JSONValue, datetime]]:
    """State under keys starting with ``prefix`` (of one tenant, or every one): (tenant, key,
    value, updated)."""
    query = "SELECT tenant, key, value, updated_at FROM tenant_state WHERE substr(key, 1, ?) = ?"
    params: tuple[object, ...] = (len(prefix), prefix)
    if tenant is not None:
        query, params = query + " AND tenant = ?", (*params, tenant)
    rows = conn.execute(query + " ORDER BY tenant, key", params).fetchall()
    return [
        (
            str(row["tenant"]),
            str(row["key"]),
            json.loads(row["value"]),
            from_text(row["updated_at"]),
        )
        for row in rows
    ]


def get_raw(conn: Conn, tenant: str, key: str, for_update: str = "") -> str | None:
    """The stored text; ``for_update`` (``Database.for_update``) locks the row until commit."""
    sql = "SELECT value FROM tenant_state WHERE tenant = ? AND key = ?" + for_update  # noqa: S608
    row = conn.execute(sql, (tenant, key)).fetchone()
    return None if row is None else str(row["value"])


def get(conn: Conn, tenant: str, key: str, for_update: str = "") -> JSONValue:
    raw = get_raw(conn, tenant, key, for_update)
    if raw is None:
        return None
    value: JSONValue = json.loads(raw)
    return value


def put_raw(
    conn: Conn, tenant: str, key: str, text: str, at: datetime, only_if_absent: bool
) -> bool:
    _check_key(tenant, key)
    if only_if_absent:
        cur = conn.execute(
            "INSERT INTO tenant_state (tenant, key, value, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (tenant, key, text, to_text(at)),
        )
        return cur.rowcount == 1
    conn.execute(
        "INSERT INTO tenant_state (tenant, key, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (tenant, key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        (tenant, key, text, to_text(at)),
    )
    return True


def put(
    conn: Conn,
    tenant: str,
    key: str,
    value: JSONValue,
    at: datetime,
    only_if_absent: bool,
) -> bool:
    return put_raw(conn, tenant, key, dumps(value), at, only_if_absent)


def replace(
    conn: Conn,
    tenant: str,
    key: str,
    expected: JSONValue,
    value: JSONValue,
    at: datetime,
    for_update: str,
) -> bool:
    """Store ``value`` only while ``expected`` is what is stored (run in a write transaction)."""
    if expected is None or get(conn, tenant, key, for_update) != expected:
        return False
    return put(conn, tenant, key, value, at, only_if_absent=False)


def delete(conn: Conn, tenant: str, key: str, expected: JSONValue | None, for_update: str) -> bool:
    if expected is not None and get(conn, tenant, key, for_update) != expected:
        return False
    cur = conn.execute("DELETE FROM tenant_state WHERE tenant = ? AND key = ?", (tenant, key))
    return cur.rowcount == 1
