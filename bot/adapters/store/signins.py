"""Delegated sign-in rows: saved sign-ins, pending device flows and the requests waiting on them.

``SqlSignIns`` works on the store's ``Database`` (SQLite or PostgreSQL); the store hands it those calls. Sealed columns
arrive sealed and leave sealed: encryption is the caller's (``bot.adapters.sealing``), so nothing
here ever holds a token or a device code in the clear. Every change that several replicas may race
for is a compare-and-set: one poller per due flow, one finisher per completed flow.
"""

from __future__ import annotations

from datetime import datetime

from bot.adapters.store.codec import from_text, to_text
from bot.adapters.store.sql import Conn, Database, Row
from bot.core.signin import PendingSignIn, SavedSignIn, SignInWait

SIGNIN_COLUMNS = (
    "tenant, user_id, username, home_account_id, sealed_cache, signed_in_at, updated_at"
)
FLOW_COLUMNS = (
    "tenant, user_id, sealed_flow, interval_seconds, next_poll_at, expires_at, created_at"
)


def _signin(row: Row) -> SavedSignIn:
    return SavedSignIn(
        tenant=str(row["tenant"]),
        user_id=str(row["user_id"]),
        username=str(row["username"]),
        home_account_id=str(row["home_account_id"]),
        sealed_cache=str(row["sealed_cache"]),
        signed_in_at=from_text(row["signed_in_at"]),
        updated_at=from_text(row["updated_at"]),
    )


def _flow(row: Row) -> PendingSignIn:
    return PendingSignIn(
        tenant=str(row["tenant"]),
        user_id=str(row["user_id"]),
        sealed_flow=str(row["sealed_flow"]),
        interval=int(row["interval_seconds"]),
        next_poll_at=from_text(row["next_poll_at"]),
        expires_at=from_text(row["expires_at"]),
        created_at=from_text(row["created_at"]),
    )


class SqlSignIns:
    """The ``SignInStore`` role, on the store's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- saved sign-ins ------------------------------------------------------------------------

    def save_signin(self, signin: SavedSignIn) -> None:
        """Insert or replace the user's sign-in (a new sign-in replaces an older account)."""
        with self._db.transaction(write=True) as conn:
            conn.execute(
                f"INSERT INTO delegated_signins ({SIGNIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT (tenant, user_id) DO UPDATE SET username = excluded.username, "
                "home_account_id = excluded.home_account_id, sealed_cache = excluded.sealed_cache, "
                "signed_in_at = excluded.signed_in_at, updated_at = excluded.updated_at",
                (
                    signin.tenant,
                    signin.user_id,
                    signin.username,
                    signin.home_account_id,
                    signin.sealed_cache,
                    to_text(signin.signed_in_at),
                    to_text(signin.updated_at),
                ),
            )

    def update_signin_cache(
        self, tenant: str, user_id: str, home_account_id: str, sealed_cache: str, at: datetime
    ) -> bool:
        """Store a refreshed cache, only if that same sign-in is still there (not signed out)."""
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                "UPDATE delegated_signins SET sealed_cache = ?, updated_at = ? "
                "WHERE tenant = ? AND user_id = ? AND home_account_id = ?",
                (sealed_cache, to_text(at), tenant, user_id, home_account_id),
            )
            return cur.rowcount == 1

    def get_signin(self, tenant: str, user_id: str) -> SavedSignIn | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {SIGNIN_COLUMNS} FROM delegated_signins WHERE tenant = ? AND user_id = ?",  # noqa: S608
                (tenant, user_id),
            ).fetchone()
        return None if row is None else _signin(row)

    def list_signins(self, tenant: str | None = None) -> list[SavedSignIn]:
        """Saved sign-ins, most recently used first."""
        query = f"SELECT {SIGNIN_COLUMNS} FROM delegated_signins"  # noqa: S608
        params: list[str] = []
        if tenant is not None:
            query, params = query + " WHERE tenant = ?", [tenant]
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query + " ORDER BY updated_at DESC, user_id", params).fetchall()
        return [_signin(row) for row in rows]

    def delete_signin(self, tenant: str, user_id: str, home_account_id: str | None = None) -> bool:
        """Forget a sign-in (``home_account_id``: only if it is still that account's)."""
        query = "DELETE FROM delegated_signins WHERE tenant = ? AND user_id = ?"
        params: list[str] = [tenant, user_id]
        if home_account_id is not None:
            query, params = query + " AND home_account_id = ?", [*params, home_account_id]
        with self._db.transaction(write=True) as conn:
            return conn.execute(query, params).rowcount == 1

    # --- pending device flows ------------------------------------------------------------------

    def add_device_flow(self, flow: PendingSignIn) -> bool:
        """Store a new flow; False when the user already has one pending (keep that one)."""
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                f"INSERT INTO device_flows ({FLOW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                (
                    flow.tenant,
                    flow.user_id,
                    flow.sealed_flow,
                    flow.interval,
                    to_text(flow.next_poll_at),
                    to_text(flow.expires_at),
                    to_text(flow.created_at),
                ),
            )
            return cur.rowcount == 1

    def get_device_flow(self, tenant: str, user_id: str) -> PendingSignIn | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {FLOW_COLUMNS} FROM device_flows WHERE tenant = ? AND user_id = ?",  # noqa: S608
                (tenant, user_id),
            ).fetchone()
        return None if row is None else _flow(row)

    def list_device_flows(
        self, tenant: str | None = None, *, due_by: datetime | None = None
    ) -> list[PendingSignIn]:
        """Pending flows (``due_by``: only those whose next poll is due by then), oldest first."""
        query = f"SELECT {FLOW_COLUMNS} FROM device_flows WHERE 1 = 1"  # noqa: S608
        params: list[str] = []
        if tenant is not None:
            query, params = query + " AND tenant = ?", [*params, tenant]
        if due_by is not None:
            query, params = query + " AND next_poll_at <= ?", [*params, to_text(due_by)]
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query + " ORDER BY next_poll_at", params).fetchall()
        return [_flow(row) for row in rows]

    def claim_device_flow(self, flow: PendingSignIn, lease_until: datetime) -> bool:
        """Take the due poll of ``flow`` (as read): True for exactly one caller across replicas."""
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                "UPDATE device_flows SET next_poll_at = ? "
                "WHERE tenant = ? AND user_id = ? AND next_poll_at = ? AND created_at = ?",
                (
                    to_text(lease_until),
                    flow.tenant,
                    flow.user_id,
                    to_text(flow.next_poll_at),
                    to_text(flow.created_at),
                ),
            )
            return cur.rowcount == 1

    def reschedule_device_flow(
        self, flow: PendingSignIn, sealed_flow: str, interval: int, next_poll_at: datetime
    ) -> bool:
        """After a pending answer: the flow's new state and its next poll (same flow only)."""
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                "UPDATE device_flows SET sealed_flow = ?, interval_seconds = ?, next_poll_at = ? "
                "WHERE tenant = ? AND user_id = ? AND created_at = ?",
                (
                    sealed_flow,
                    interval,
                    to_text(next_poll_at),
                    flow.tenant,
                    flow.user_id,
                    to_text(flow.created_at),
                ),
            )
            return cur.rowcount == 1

    def finish_device_flow(self, tenant: str, user_id: str) -> tuple[str, ...] | None:
        """Remove the user's flow and its waits; the waiting request ids, or None when another
        caller finished it first."""
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                "DELETE FROM device_flows WHERE tenant = ? AND user_id = ?", (tenant, user_id)
            )
            if cur.rowcount != 1:
                return None
            waiting = self._waiting(conn, tenant, user_id)
            conn.execute(
                "DELETE FROM signin_waits WHERE tenant = ? AND user_id = ?", (tenant, user_id)
            )
        return waiting

    # --- requests waiting for a sign-in --------------------------------------------------------

    def add_signin_wait(self, request_id: str, tenant: str, user_id: str, at: datetime) -> None:
        """``request_id`` uploads once ``user_id`` has signed in (replaces an earlier wait)."""
        with self._db.transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO signin_waits (request_id, tenant, user_id, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET "
                "tenant = excluded.tenant, user_id = excluded.user_id, "
                "created_at = excluded.created_at",
                (request_id, tenant, user_id, to_text(at)),
            )

    def remove_signin_wait(self, request_id: str) -> bool:
        with self._db.transaction(write=True) as conn:
            cur = conn.execute("DELETE FROM signin_waits WHERE request_id = ?", (request_id,))
            return cur.rowcount == 1

    def signin_wait(self, request_id: str) -> SignInWait | None:
        """The pending sign-in ``request_id`` waits for (None once the flow has ended)."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT w.request_id, w.tenant, w.user_id, f.expires_at FROM signin_waits AS w "
                "JOIN device_flows AS f ON f.tenant = w.tenant AND f.user_id = w.user_id "
                "WHERE w.request_id = ?",
                (request_id,),
            ).fetchone()
        if row is None:
            return None
        return SignInWait(
            request_id=str(row["request_id"]),
            tenant=str(row["tenant"]),
            user_id=str(row["user_id"]),
            expires_at=from_text(row["expires_at"]),
        )

    @staticmethod
    def _waiting(conn: Conn, tenant: str, user_id: str) -> tuple[str, ...]:
        rows = conn.execute(
            "SELECT request_id FROM signin_waits WHERE tenant = ? AND user_id = ? "
            "ORDER BY created_at, request_id",
            (tenant, user_id),
        ).fetchall()
        return tuple(str(row["request_id"]) for row in rows)
