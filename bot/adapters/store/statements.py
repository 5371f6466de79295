"""SQL for change requests, approvals and the audit trail, run inside a caller's transaction.

Column lists and ``?`` placeholders are assembled from constants of this package only; every
value travels as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.store.codec import (
    REQUEST_COLUMNS,
    approval_from_row,
    check_event_name,
    detail_to_json,
    opt_text,
    request_from_row,
    to_text,
)
from bot.adapters.store.sql import Conn, Row
from bot.core.requests import (
    ApplyResult,
    Approval,
    ChangeRequest,
    Event,
    Failure,
    JSONValue,
    Rejection,
    Status,
    can_transition,
)

SELECT_REQUEST = f"SELECT {REQUEST_COLUMNS} FROM change_requests"  # noqa: S608
INSERT_REQUEST = (
    f"INSERT INTO change_requests ({REQUEST_COLUMNS}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS.split(',')))})"
)


def marks(count: int) -> str:
    return ", ".join("?" * count)


def approvals(conn: Conn, request_id: str) -> tuple[Approval, ...]:
    rows = conn.execute(
        "SELECT user_id, at FROM approvals WHERE request_id = ? ORDER BY at, rowid", (request_id,)
    ).fetchall()
    return tuple(approval_from_row(row) for row in rows)


def load(conn: Conn, row: Row) -> ChangeRequest:
    return request_from_row(row, approvals(conn, str(row["id"])))


def load_by_id(conn: Conn, request_id: str) -> ChangeRequest | None:
    row = conn.execute(f"{SELECT_REQUEST} WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else load(conn, row)


def tenant_and_status(conn: Conn, request_id: str, for_update: str) -> Row | None:
    """The request's tenant and status; ``for_update`` (``Database.for_update``) locks the row
    for the rest of the write transaction."""
    sql = "SELECT tenant, status FROM change_requests WHERE id = ?" + for_update  # noqa: S608
    row: Row | None = conn.execute(sql, (request_id,)).fetchone()
    return row


def insert_approval(conn: Conn, request_id: str, tenant: str, user_id: str, at: datetime) -> bool:
    """An insert that yields to UNIQUE(request_id, user_id): True only the first time."""
    cur = conn.execute(
        "INSERT INTO approvals (request_id, tenant, user_id, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (request_id, tenant, user_id, to_text(at)),
    )
    return cur.rowcount == 1


def expire(conn: Conn, request_id: str, tenant: str, now: datetime, detail: str) -> bool:
    """Move one pending request to expired, with its audit event; False when it was not pending."""
    cur = conn.execute(
        EXPIRE_SQL,
        (Status.EXPIRED.value, to_text(now), request_id, Status.PENDING.value),
    )
    if cur.rowcount == 1:
        insert_audit(conn, tenant, Event.EXPIRED, "system", now, request_id, detail)
    return cur.rowcount == 1


def insert_audit(
    conn: Conn,
    tenant: str,
    event: str,
    actor: str,
    at: datetime,
    request_id: str | None,
    detail_text: str,
) -> int:
    """Append one audit event; ``detail_text`` comes from ``codec.detail_to_json`` (checked)."""
    cur = conn.execute(
        "INSERT INTO audit_events (tenant, request_id, at, actor, event, detail) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (tenant, request_id, to_text(at), actor, str(event), detail_text),
    )
    return int(cur.fetchone()["id"])


def quotable(text: str, limit: int = 500) -> str:
    """Free text for an audit detail: shortened, and withheld if someone pasted a PEM block."""
    if "-----BEGIN" in text:
        return "[withheld: the text contained a PEM block]"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Transition:
    """One compare-and-set, prepared and validated before any transaction opens."""

    update_sql: str
    params: tuple[object, ...]
    detail_text: str


# A token request that can never be uploaded again drops its file (a credential: Apple's token
# for the organisation); a failed one keeps it for Retry. The push certificate is not a secret.
SETTLED = frozenset({Status.APPLIED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED})
CLEAR_FILE_SQL = "certificate_pem = CASE WHEN token_change IS NULL THEN certificate_pem ELSE '' END"
EXPIRE_SQL = (  # a pending request past its time (the same CASE as CLEAR_FILE_SQL)
    "UPDATE change_requests SET status = ?, updated_at = ?, certificate_pem = CASE WHEN "
    "token_change IS NULL THEN certificate_pem ELSE '' END WHERE id = ? AND status = ?"
)


def prepare_transition(
    request_id: str,
    froms: tuple[Status, ...],
    to_status: Status,
    now: datetime,
    *,
    event: str | None,
    detail: Mapping[str, JSONValue] | None,
    require_approvals: int,
    rejection: Rejection | None,
    result: ApplyResult | None,
    failure: Failure | None,
) -> Transition:
    """Validate a status change (``ValueError`` for a programming error) and build its UPDATE.

    The WHERE clause is the compare: the row must still be in one of ``froms`` and, with
    ``require_approvals``, carry that many approvals from people other than the requester.
    """
    if not froms:
        raise ValueError("transition needs at least one status to move from")
    bad = [s.value for s in froms if not can_transition(s, to_status)]
    if bad:
        raise ValueError(f"{'/'.join(bad)} -> {to_status.value} is not an allowed transition")
    if to_status is Status.REJECTED and rejection is None:
        raise ValueError("a rejection needs who rejected it")
    if to_status is Status.FAILED and failure is None:
        raise ValueError("a failure needs its code and message")
    if event is not None:
        check_event_name(event)

    sets = ["status = ?", "updated_at = ?"]
    params: list[object] = [to_status.value, to_text(now)]
    audit: dict[str, JSONValue] = {"to": to_status.value}
    if to_status in SETTLED:
        sets.append(CLEAR_FILE_SQL)
    if to_status is Status.APPLYING:
        sets += ["attempts = attempts + 1", "failure_code = NULL", "failure_message = NULL"]
        sets += ["failure_request_id = NULL"]
    if rejection is not None:
        sets += ["rejected_by = ?", "rejected_at = ?", "rejection_reason = ?"]
        params += [rejection.by, to_text(rejection.at), rejection.reason]
        if rejection.reason:
            audit["reason"] = quotable(rejection.reason)
    if result is not None:
        sets += ["applied_topic = ?", "applied_serial = ?", "applied_expiry = ?"]
        params += [result.topic, result.serial, opt_text(result.expiry)]
        audit.update(serial=result.serial, expiry=opt_text(result.expiry))
    if failure is not None:
        sets += ["failure_code = ?", "failure_message = ?", "failure_request_id = ?"]
        params += [failure.code, failure.message, failure.request_id]
        audit.update(code=failure.code, graph_request_id=failure.request_id)
    audit.update(detail or {})

    where = f"id = ? AND status IN ({marks(len(froms))})"
    params += [request_id, *(s.value for s in froms)]
    if require_approvals > 0:
        where += (
            " AND (SELECT count(*) FROM approvals AS a WHERE a.request_id = change_requests.id"
            " AND a.user_id != change_requests.requester) >= ?"
        )
        params.append(require_approvals)
    sql = f"UPDATE change_requests SET {', '.join(sets)} WHERE {where}"  # noqa: S608
    return Transition(sql, tuple(params), detail_to_json(audit))
