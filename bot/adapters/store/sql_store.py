"""``SqlStore``: the ``Store`` port in SQL, one body for SQLite and PostgreSQL (``sql.Database``).

Every status change is a compare-and-set done in SQL (``UPDATE … WHERE id = ? AND status IN
(…)``, rowcount checked) in a write transaction, with its audit event in the same transaction:
of any number of threads or processes racing to move a request, exactly one gets True, and the
audit trail never disagrees with the request's status. SQLite's ``BEGIN IMMEDIATE`` serialises
writers; on PostgreSQL the rows a write transaction reads before it acts are locked, several in
key order (``Database.for_update``), and a tenant's pending set is guarded by ``Database.lock``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bot.adapters.store import copying, notices, resealing
from bot.adapters.store import statements as stmt
from bot.adapters.store.codec import (
    check_event_name,
    detail_to_json,
    event_from_row,
    request_detail,
    request_params,
    snapshot_from_json,
    snapshot_to_json,
    to_text,
)
from bot.adapters.store.resealing import Sealed
from bot.adapters.store.schema import SCHEMA_VERSION
from bot.adapters.store.sealed_requests import CertificateSealing
from bot.adapters.store.signins import SqlSignIns
from bot.adapters.store.sql import Database
from bot.core.model import TenantCertificate
from bot.core.requests import (
    ApplyResult,
    ApprovalResult,
    AuditEvent,
    ChangeRequest,
    Event,
    Failure,
    JSONValue,
    Rejection,
    Status,
    transition_event,
)
from bot.core.signin import PendingSignIn, SavedSignIn, SignInWait
from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.adapters.sealing import Sealer

SNAPSHOT_KEY = "certificate_snapshot"  # tenant_state key of the last certificate the watch saw


class _RolledBack(Exception):
    """Ends ``probe_write``'s transaction: an exception rolls it back."""


class SqlStore:
    """The bot's state in a SQL database; ``SqliteStore`` and ``PostgresStore`` open one.

    Safe to share between threads and processes. Use as a context manager or call ``close()``.
    With a ``sealer`` (``APNS_TOKEN_KEY``) approved certificates are stored encrypted (older plain
    rows are still read).
    """

    def __init__(self, db: Database, *, sealer: Sealer | None = None) -> None:
        self._db = db
        self._pem = CertificateSealing(sealer)
        self._signins = SqlSignIns(db)

    def close(self) -> None:
        self._db.close()

    def rewrite_sealed(
        self, rewrite: Callable[[Sealed, str], str | None], *, write: bool = True
    ) -> dict[Sealed, int]:
        """Every sealed value through ``rewrite`` in one transaction (``resealing``); a write
        transaction only when ``write``."""
        with self._db.transaction(write=write) as conn:
            return resealing.rewrite_sealed(
                conn, rewrite, write=write, for_update=self._db.for_update
            )

    def schema_version(self) -> int:
        return self._db.schema_version()

    def copy_into(self, target: SqlStore) -> dict[str, int]:
        """Every row into ``target``, which must be empty (``copying``); counts per table."""
        return copying.copy_all(self._db, target._db)

    def probe_write(self, at: datetime) -> None:
        """Write a row (before any migration: a table) and roll it back (``doctor``)."""
        migrated = self._db.schema_version() >= SCHEMA_VERSION
        try:
            with self._db.transaction(write=True) as conn:
                if not migrated:  # may the bot create its tables? (DDL rolls back on both)
                    conn.execute("CREATE TABLE apns_doctor_probe (id INTEGER)")
                else:
                    notices.put_raw(conn, "apns-bot", "doctor:write-probe", "null", at, False)
                raise _RolledBack
        except _RolledBack:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------------

    def create_request(
        self,
        request: ChangeRequest,
        *,
        unless: Callable[[list[ChangeRequest]], ChangeRequest | None] | None = None,
    ) -> ChangeRequest | None:
        detail = detail_to_json(request_detail(request))
        with self._db.transaction(write=True) as conn:
            if unless is not None:
                self._db.lock(conn, f"pending-requests:{request.tenant}")
                query = f"{stmt.SELECT_REQUEST} WHERE tenant = ? AND status = ?"
                rows = conn.execute(query, (request.tenant, Status.PENDING.value)).fetchall()
                blocking = unless([self._pem.open(stmt.load(conn, row)) for row in rows])
                if blocking is not None:
                    return blocking
            conn.execute(stmt.INSERT_REQUEST, request_params(self._pem.seal(request)))
            for approval in request.approvals:
                stmt.insert_approval(
                    conn, request.id, request.tenant, approval.user_id, approval.at
                )
            stmt.insert_audit(
                conn,
                request.tenant,
                Event.REQUESTED,
                request.requester,
                request.created_at,
                request.id,
                detail,
            )
        return None

    def get_request(self, request_id: str) -> ChangeRequest | None:
        with self._db.transaction(write=False) as conn:
            return self._pem.open(stmt.load_by_id(conn, request_id))

    def list_requests(
        self, tenant: str, statuses: Iterable[Status] | None = None, limit: int = 50
    ) -> list[ChangeRequest]:
        wanted = [Status(s).value for s in statuses] if statuses is not None else None
        query = f"{stmt.SELECT_REQUEST} WHERE tenant = ?"
        if wanted is not None:
            query += f" AND status IN ({stmt.marks(len(wanted))})"
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query, (tenant, *(wanted or []), limit)).fetchall()
            return [self._pem.open(stmt.load(conn, row)) for row in rows]

    def requests_in(self, status: Status, tenant: str | None = None) -> list[ChangeRequest]:
        query, params = f"{stmt.SELECT_REQUEST} WHERE status = ?", [Status(status).value]
        if tenant is not None:
            query, params = query + " AND tenant = ?", [*params, tenant]
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query + " ORDER BY created_at, id", params).fetchall()
            return [self._pem.open(stmt.load(conn, row)) for row in rows]

    def add_approval(self, request_id: str, user_id: str, at: datetime) -> ApprovalResult:
        with self._db.transaction(write=True) as conn:
            row = stmt.tenant_and_status(conn, request_id, self._db.for_update)
            if row is None:
                raise StoreError(f"There is no change request {request_id}.")
            status, recorded = Status(str(row["status"])), False
            if status is Status.PENDING:
                recorded = stmt.insert_approval(conn, request_id, str(row["tenant"]), user_id, at)
            approvals = stmt.approvals(conn, request_id)
            if recorded:
                conn.execute(
                    "UPDATE change_requests SET updated_at = ? WHERE id = ?",
                    (to_text(at), request_id),
                )
                detail = detail_to_json({"approvals": len(approvals)})
                stmt.insert_audit(
                    conn, str(row["tenant"]), Event.APPROVED, user_id, at, request_id, detail
                )
        return ApprovalResult(recorded=recorded, status=status, approvals=approvals)

    def transition(
        self,
        request_id: str,
        from_status: Status | Iterable[Status],
        to_status: Status,
        now: datetime,
        *,
        actor: str = "system",
        event: str | None = None,
        detail: Mapping[str, JSONValue] | None = None,
        require_approvals: int = 0,
        rejection: Rejection | None = None,
        result: ApplyResult | None = None,
        failure: Failure | None = None,
    ) -> bool:
        froms = (from_status,) if isinstance(from_status, Status) else tuple(from_status)
        change = stmt.prepare_transition(
            request_id,
            froms,
            to_status,
            now,
            event=event,
            detail=detail,
            require_approvals=require_approvals,
            rejection=rejection,
            result=result,
            failure=failure,
        )
        with self._db.transaction(write=True) as conn:
            row = stmt.tenant_and_status(conn, request_id, self._db.for_update)
            if row is None:
                return False
            if conn.execute(change.update_sql, change.params).rowcount != 1:
                return False
            name = event or transition_event(Status(str(row["status"])), to_status)
            stmt.insert_audit(
                conn, str(row["tenant"]), name, actor, now, request_id, change.detail_text
            )
        return True

    def set_approval_message(self, request_id: str, channel: str, ts: str) -> bool:
        with self._db.transaction(write=True) as conn:
            cur = conn.execute(
                "UPDATE change_requests SET message_channel = ?, message_ts = ? WHERE id = ?",
                (channel, ts, request_id),
            )
            return cur.rowcount == 1

    def expire_due(self, now: datetime, tenant: str | None = None) -> list[ChangeRequest]:
        query = "SELECT id, tenant FROM change_requests WHERE status = ? AND expires_at <= ?"
        params: list[object] = [Status.PENDING.value, to_text(now)]
        if tenant is not None:
            query, params = query + " AND tenant = ?", [*params, tenant]
        detail = detail_to_json({"to": Status.EXPIRED.value})
        with self._db.transaction(write=True) as conn:
            moved: list[ChangeRequest] = []
            for due in conn.execute(f"{query} ORDER BY id{self._db.for_update}", params).fetchall():
                if stmt.expire(conn, str(due["id"]), str(due["tenant"]), now, detail):
                    loaded = self._pem.open(stmt.load_by_id(conn, str(due["id"])))
                    if loaded is not None:
                        moved.append(loaded)
            return sorted(moved, key=lambda r: (r.expires_at, r.id))

    # --- audit ---------------------------------------------------------------------------------

    def audit(
        self,
        tenant: str,
        event: str,
        actor: str,
        at: datetime,
        *,
        request_id: str | None = None,
        detail: Mapping[str, JSONValue] | None = None,
    ) -> int:
        check_event_name(event)
        text = detail_to_json(detail)
        with self._db.transaction(write=True) as conn:
            return stmt.insert_audit(conn, tenant, event, actor, at, request_id, text)

    def history(
        self, tenant: str, *, limit: int = 20, request_id: str | None = None
    ) -> list[AuditEvent]:
        query = "SELECT id, tenant, request_id, at, actor, event, detail FROM audit_events"
        query, params = query + " WHERE tenant = ?", [tenant]
        if request_id is not None:
            query, params = query + " AND request_id = ?", [*params, request_id]
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [event_from_row(row) for row in rows]

    # --- notices and per-tenant state ------------------------------------------------------------

    def mark_notice_once(self, tenant: str, key: str, at: datetime) -> bool:
        with self._db.transaction(write=True) as conn:
            return notices.mark_once(conn, tenant, key, at)

    def list_notices(self, tenant: str, prefix: str = "") -> Sequence[tuple[str, datetime]]:
        with self._db.transaction(write=False) as conn:
            return notices.marked(conn, tenant, prefix)

    def forget_notices(self, tenant: str, prefix: str, before: datetime) -> int:
        with self._db.transaction(write=True) as conn:
            return notices.forget(conn, tenant, prefix, before)

    def get_state(self, tenant: str, key: str) -> JSONValue:
        with self._db.transaction(write=False) as conn:
            return notices.get(conn, tenant, key)

    def set_state(
        self, tenant: str, key: str, value: JSONValue, at: datetime, *, only_if_absent: bool = False
    ) -> bool:
        if key == SNAPSHOT_KEY:
            raise ValueError(f"{SNAPSHOT_KEY!r} is reserved: use set_snapshot")
        with self._db.transaction(write=True) as conn:
            return notices.put(conn, tenant, key, value, at, only_if_absent)

    def delete_state(self, tenant: str, key: str, *, expected: JSONValue = None) -> bool:
        with self._db.transaction(write=True) as conn:
            return notices.delete(conn, tenant, key, expected, self._db.for_update)

    def replace_state(
        self, tenant: str, key: str, expected: JSONValue, value: JSONValue, at: datetime
    ) -> bool:
        if key == SNAPSHOT_KEY:
            raise ValueError(f"{SNAPSHOT_KEY!r} is reserved: use set_snapshot")
        with self._db.transaction(write=True) as conn:
            return notices.replace(conn, tenant, key, expected, value, at, self._db.for_update)

    def list_states(
        self, prefix: str, tenant: str | None = None
    ) -> Sequence[tuple[str, str, JSONValue, datetime]]:
        if not prefix:
            raise ValueError("list_states needs a key prefix")
        with self._db.transaction(write=False) as conn:
            return notices.with_prefix(conn, prefix, tenant)

    def get_snapshot(self, tenant: str) -> TenantCertificate | None:
        with self._db.transaction(write=False) as conn:
            return snapshot_from_json(notices.get_raw(conn, tenant, SNAPSHOT_KEY))

    def set_snapshot(self, tenant: str, cert: TenantCertificate, at: datetime) -> None:
        text = snapshot_to_json(cert) or "null"
        with self._db.transaction(write=True) as conn:
            notices.put_raw(conn, tenant, SNAPSHOT_KEY, text, at, only_if_absent=False)

    def delete_snapshot(self, tenant: str) -> bool:
        with self._db.transaction(write=True) as conn:
            return notices.delete(conn, tenant, SNAPSHOT_KEY, None, self._db.for_update)

    # --- delegated sign-in: the SignInStore role, on the same database (``SqlSignIns``) ----------

    def save_signin(self, signin: SavedSignIn) -> None:
        self._signins.save_signin(signin)

    def update_signin_cache(
        self, tenant: str, user_id: str, home_account_id: str, sealed_cache: str, at: datetime
    ) -> bool:
        return self._signins.update_signin_cache(tenant, user_id, home_account_id, sealed_cache, at)

    def get_signin(self, tenant: str, user_id: str) -> SavedSignIn | None:
        return self._signins.get_signin(tenant, user_id)

    def list_signins(self, tenant: str | None = None) -> list[SavedSignIn]:
        return self._signins.list_signins(tenant)

    def delete_signin(self, tenant: str, user_id: str, home_account_id: str | None = None) -> bool:
        return self._signins.delete_signin(tenant, user_id, home_account_id)

    def add_device_flow(self, flow: PendingSignIn) -> bool:
        return self._signins.add_device_flow(flow)

    def get_device_flow(self, tenant: str, user_id: str) -> PendingSignIn | None:
        return self._signins.get_device_flow(tenant, user_id)

    def list_device_flows(
        self, tenant: str | None = None, *, due_by: datetime | None = None
    ) -> list[PendingSignIn]:
        return self._signins.list_device_flows(tenant, due_by=due_by)

    def claim_device_flow(self, flow: PendingSignIn, lease_until: datetime) -> bool:
        return self._signins.claim_device_flow(flow, lease_until)

    def reschedule_device_flow(
        self, flow: PendingSignIn, sealed_flow: str, interval: int, next_poll_at: datetime
    ) -> bool:
        return self._signins.reschedule_device_flow(flow, sealed_flow, interval, next_poll_at)

    def finish_device_flow(self, tenant: str, user_id: str) -> tuple[str, ...] | None:
        return self._signins.finish_device_flow(tenant, user_id)

    def add_signin_wait(self, request_id: str, tenant: str, user_id: str, at: datetime) -> None:
        self._signins.add_signin_wait(request_id, tenant, user_id, at)

    def remove_signin_wait(self, request_id: str) -> bool:
        return self._signins.remove_signin_wait(request_id)

    def signin_wait(self, request_id: str) -> SignInWait | None:
        return self._signins.signin_wait(request_id)
