"""Every value sealed with ``APNS_TOKEN_KEY``, rewritten in one transaction (``apns-bot rekey``).

Three columns hold sealed values: saved sign-ins (MSAL token caches), pending device code flows,
and approved certificates (marked with ``SEALED_PREFIX``; rows older than the key are plain text).
``rewrite`` decides per value; the store only reads and writes, so it never sees a key.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from bot.adapters.sealing import SEALED_PREFIX
from bot.adapters.store.sql import Conn


class Sealed(Enum):
    """What a sealed column holds (and so how ``rewrite`` must treat the value)."""

    SIGNIN = "saved sign-ins"  # a Fernet token
    DEVICE_FLOW = "pending sign-ins"  # a Fernet token
    CERTIFICATE = "approved certificates"  # SEALED_PREFIX + a Fernet token, or older plain text


def fernet_token(kind: Sealed, value: str) -> str | None:
    """The Fernet token a stored value holds; None for a certificate stored as plain text."""
    if kind is not Sealed.CERTIFICATE:
        return value
    return value[len(SEALED_PREFIX) :] if value.startswith(SEALED_PREFIX) else None


# (kind, table, column, the row's key columns)
_COLUMNS = (
    (Sealed.SIGNIN, "delegated_signins", "sealed_cache", ("tenant", "user_id")),
    (Sealed.DEVICE_FLOW, "device_flows", "sealed_flow", ("tenant", "user_id")),
    (Sealed.CERTIFICATE, "change_requests", "certificate_pem", ("id",)),
)


def rewrite_sealed(
    conn: Conn,
    rewrite: Callable[[Sealed, str], str | None],
    *,
    write: bool,
    for_update: str = "",
) -> dict[Sealed, int]:
    """Pass every stored value through ``rewrite``; store what it returns (None: leave it), unless
    not ``write`` (when it does, ``for_update`` keeps a running bot from changing the rows meanwhile). Returns how many values were (or would be) rewritten, per kind."""
    counts = {kind: 0 for kind, *_ in _COLUMNS}
    for kind, table, column, keys in _COLUMNS:
        # table and column names are this module's constants, never input
        # in key order, as expire_due locks rows: two writers never wait for each other in a circle
        select = f"SELECT {', '.join(keys)}, {column} FROM {table} ORDER BY {', '.join(keys)}"  # noqa: S608
        select += for_update if write else ""
        rows = conn.execute(select).fetchall()
        for row in rows:
            if not row[column]:
                continue  # nothing to seal
            new = rewrite(kind, str(row[column]))
            if new is None or new == row[column]:
                continue
            counts[kind] += 1
            if write:
                where = " AND ".join(f"{key} = ?" for key in keys)
                conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {where}",  # noqa: S608
                    (new, *(row[key] for key in keys)),
                )
    return counts
