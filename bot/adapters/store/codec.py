"""Conversions between the core's dataclasses and the store's columns (the same on SQLite and
PostgreSQL: times are ISO 8601 text, JSON is text), and the audit-detail guard."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.adapters.store.sql import Row
from bot.core.model import TenantCertificate
from bot.core.requests import (
    ApplyResult,
    Approval,
    AuditEvent,
    ChangeRequest,
    Failure,
    JSONValue,
    Rejection,
    RequestWarning,
    Status,
    TokenChange,
)
from bot.core.tokens import CredentialKind

# --- time ---------------------------------------------------------------------------------------


def to_text(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored: pass an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def opt_text(moment: datetime | None) -> str | None:
    return None if moment is None else to_text(moment)


def from_text(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def opt_time(text: Any) -> datetime | None:
    return None if text is None else from_text(text)


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


# --- JSON columns -------------------------------------------------------------------------------


def dumps(value: JSONValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def snapshot_to_json(cert: TenantCertificate | None) -> str | None:
    if cert is None:
        return None
    return dumps(
        {
            "apple_id": cert.apple_id,
            "topic": cert.topic,
            "serial": cert.serial,
            "expires_at": opt_text(cert.expires_at),
            "upload_status": cert.upload_status,
            "upload_failure_reason": cert.upload_failure_reason,
            "last_modified": opt_text(cert.last_modified),
        }
    )


def snapshot_from_json(text: Any) -> TenantCertificate | None:
    if text is None:
        return None
    data = json.loads(str(text))
    return TenantCertificate(
        apple_id=opt_str(data.get("apple_id")),
        topic=opt_str(data.get("topic")),
        serial=opt_str(data.get("serial")),
        expires_at=opt_time(data.get("expires_at")),
        upload_status=opt_str(data.get("upload_status")),
        upload_failure_reason=opt_str(data.get("upload_failure_reason")),
        last_modified=opt_time(data.get("last_modified")),
    )


def warnings_to_json(warnings: tuple[RequestWarning, ...]) -> str:
    return dumps([{"code": w.code, "severity": w.severity, "message": w.message} for w in warnings])


def warnings_from_json(text: Any) -> tuple[RequestWarning, ...]:
    return tuple(
        RequestWarning(code=str(w["code"]), severity=str(w["severity"]), message=str(w["message"]))
        for w in json.loads(str(text))
    )


def token_change_to_json(change: TokenChange | None) -> str | None:
    """The ADE/VPP part of a request (never the token's content: that is the sealed column)."""
    if change is None:
        return None
    return dumps(
        {
            "kind": change.kind.value,
            "id": change.token_id,
            "name": change.token_name,
            "organization": change.organization,
            "current_apple_id": change.current_apple_id,
            "current_expiry": opt_text(change.current_expiry),
            "current_modified": opt_text(change.current_modified),
            "new_expiry": opt_text(change.new_expiry),
        }
    )


def token_change_from_json(text: Any) -> TokenChange | None:
    if text is None:
        return None
    data = json.loads(str(text))
    return TokenChange(
        kind=CredentialKind(str(data["kind"])),
        token_id=str(data["id"]),
        token_name=opt_str(data.get("name")),
        organization=opt_str(data.get("organization")),
        current_apple_id=opt_str(data.get("current_apple_id")),
        current_expiry=opt_time(data.get("current_expiry")),
        current_modified=opt_time(data.get("current_modified")),
        new_expiry=opt_time(data.get("new_expiry")),
    )


def request_detail(request: ChangeRequest) -> dict[str, JSONValue]:
    """The ``requested`` audit event's detail: what is renewed, never the file's content."""
    if request.token is None:
        return {
            "apple_id": request.apple_id,
            "topic": request.topic,
            "serial": request.serial,
            "not_after": to_text(request.not_after),
            "sha256": request.sha256,
        }
    change = request.token
    return {
        "kind": change.kind.value,
        "target_id": change.token_id,
        "target_name": change.token_name,
        "organization": change.organization,
        "apple_id": request.apple_id or None,
        "new_expiry": opt_text(change.new_expiry),
        "sha256": request.sha256,
    }


# --- rows -> dataclasses ------------------------------------------------------------------------

REQUEST_COLUMNS = (
    "id, tenant, requester, apple_id, certificate_pem, sha256, topic, serial, not_after, "
    "warnings, reason, current_snapshot, status, created_at, expires_at, updated_at, "
    "rejected_by, rejected_at, rejection_reason, message_channel, message_ts, "
    "applied_topic, applied_serial, applied_expiry, "
    "failure_code, failure_message, failure_request_id, attempts, token_change"
)


def request_params(req: ChangeRequest) -> tuple[object, ...]:
    """Values for ``REQUEST_COLUMNS``, in order."""
    rejection, result, failure = req.rejection, req.result, req.failure
    return (
        req.id,
        req.tenant,
        req.requester,
        req.apple_id,
        req.certificate_pem,
        req.sha256,
        req.topic,
        req.serial,
        to_text(req.not_after),
        warnings_to_json(req.warnings),
        req.reason,
        snapshot_to_json(req.current),
        req.status.value,
        to_text(req.created_at),
        to_text(req.expires_at),
        to_text(req.updated_at or req.created_at),
        rejection.by if rejection else None,
        opt_text(rejection.at) if rejection else None,
        rejection.reason if rejection else None,
        req.message_channel,
        req.message_ts,
        result.topic if result else None,
        result.serial if result else None,
        opt_text(result.expiry) if result else None,
        failure.code if failure else None,
        failure.message if failure else None,
        failure.request_id if failure else None,
        req.attempts,
        token_change_to_json(req.token),
    )


def approval_from_row(row: Row) -> Approval:
    return Approval(user_id=str(row["user_id"]), at=from_text(row["at"]))


def request_from_row(row: Row, approvals: tuple[Approval, ...]) -> ChangeRequest:
    rejection = None
    if row["rejected_by"] is not None:
        rejection = Rejection(
            by=str(row["rejected_by"]),
            at=from_text(row["rejected_at"]),
            reason=opt_str(row["rejection_reason"]),
        )
    result = None
    if any(row[c] is not None for c in ("applied_topic", "applied_serial", "applied_expiry")):
        result = ApplyResult(
            topic=opt_str(row["applied_topic"]),
            serial=opt_str(row["applied_serial"]),
            expiry=opt_time(row["applied_expiry"]),
        )
    failure = None
    if row["failure_code"] is not None:
        failure = Failure(
            code=str(row["failure_code"]),
            message=str(row["failure_message"] or ""),
            request_id=opt_str(row["failure_request_id"]),
        )
    return ChangeRequest(
        id=str(row["id"]),
        tenant=str(row["tenant"]),
        requester=str(row["requester"]),
        apple_id=str(row["apple_id"]),
        certificate_pem=str(row["certificate_pem"]),
        sha256=str(row["sha256"]),
        topic=str(row["topic"]),
        serial=str(row["serial"]),
        not_after=from_text(row["not_after"]),
        created_at=from_text(row["created_at"]),
        expires_at=from_text(row["expires_at"]),
        warnings=warnings_from_json(row["warnings"]),
        reason=opt_str(row["reason"]),
        current=snapshot_from_json(row["current_snapshot"]),
        status=Status(str(row["status"])),
        updated_at=from_text(row["updated_at"]),
        approvals=approvals,
        rejection=rejection,
        message_channel=opt_str(row["message_channel"]),
        message_ts=opt_str(row["message_ts"]),
        result=result,
        failure=failure,
        attempts=int(row["attempts"]),
        token=token_change_from_json(row["token_change"]),
    )


def event_from_row(row: Row) -> AuditEvent:
    detail = json.loads(str(row["detail"]))
    return AuditEvent(
        id=int(row["id"]),
        tenant=str(row["tenant"]),
        at=from_text(row["at"]),
        actor=str(row["actor"]),
        event=str(row["event"]),
        request_id=opt_str(row["request_id"]),
        detail=detail if isinstance(detail, dict) else {},
    )


# --- the audit-detail guard ---------------------------------------------------------------------

_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
_FORBIDDEN_KEY_PARTS = (
    "certificate",
    "pem",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "privatekey",
    "devicecode",
    "assertion",
)
MAX_DETAIL_CHARS = 4000


def _check_value(path: str, value: JSONValue) -> None:
    if isinstance(value, str) and "-----BEGIN" in value:
        raise ValueError(f"audit detail {path!r} holds a PEM block; store its serial or sha256")
    if isinstance(value, dict):
        check_detail(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(f"{path}[{i}]", item)


def check_detail(detail: Mapping[str, JSONValue], where: str = "") -> None:
    """Refuse audit details that could carry a certificate body or a secret.

    Keys are compared with case, ``_`` and ``-`` removed: ``certificate``, ``certificate_pem``,
    ``accessToken``, ``client-secret``, ``device_code`` … are all refused, at any depth, and so is
    any string holding ``-----BEGIN`` (a PEM block of any kind). Raises ``ValueError``: a caller
    passing such a key is a bug to fix, not a condition to handle.
    """
    for key, value in detail.items():
        if not isinstance(key, str):
            raise ValueError("audit detail keys must be strings")
        path = f"{where}.{key}" if where else key
        squashed = re.sub(r"[^a-z0-9]", "", key.lower())
        if any(part in squashed for part in _FORBIDDEN_KEY_PARTS):
            raise ValueError(f"audit detail key {path!r} may carry a certificate body or a secret")
        _check_value(path, value)


def detail_to_json(detail: Mapping[str, JSONValue] | None) -> str:
    check_detail(detail or {})
    text = dumps(dict(detail or {}))
    if len(text) > MAX_DETAIL_CHARS:
        raise ValueError(f"audit detail is {len(text)} characters; the limit is {MAX_DETAIL_CHARS}")
    return text


def check_event_name(event: str) -> None:
    if not _EVENT_NAME.match(event):
        raise ValueError(f"audit event {event!r} must be lower_snake_case")
