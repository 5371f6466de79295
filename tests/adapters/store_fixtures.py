"""Building blocks for the store tests: fully populated change requests and raw file access."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from bot.core.model import TenantCertificate
from bot.core.requests import (
    ApplyResult,
    Approval,
    ChangeRequest,
    Failure,
    Rejection,
    RequestWarning,
    Status,
    new_change_request,
    new_request_id,
)

T0 = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
TOPIC = "com.apple.mgmt.External.2b1f6c2e-8d6a-4a51-9a0b-3f4c5d6e7f80"
PEM_BODY = "MIIFjTCCBHWgAwIBAgIIC3AC7+prptAwDQYJKoZIhvcNAQELBQAwgYwxQDA+BgNV"
PEM = f"-----BEGIN CERTIFICATE-----\n{PEM_BODY}\n-----END CERTIFICATE-----\n"
CURRENT = TenantCertificate(
    apple_id="mdm@example.com",
    topic=TOPIC,
    serial="0B7002EFEA6BA6D0",
    expires_at=datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
    upload_status="ok",
    upload_failure_reason="none",
    last_modified=datetime(2025, 3, 20, 8, 0, 1, 5, tzinfo=UTC),
)

_counter = iter(range(1, 1_000_000))


def request(tenant: str = "default", *, created: datetime = T0, **changes: object) -> ChangeRequest:
    """A pending request with a fresh id; ``changes`` override any field."""
    base = new_change_request(
        id=new_request_id(created, next(_counter).to_bytes(10, "big")),
        tenant=tenant,
        requester="UREQ",
        apple_id="mdm@example.com",
        certificate_pem=PEM,
        sha256="ab" * 32,
        topic=TOPIC,
        serial="1C2D3E4F5A6B7C8D",
        not_after=datetime(2027, 3, 1, 8, 59, 59, tzinfo=UTC),
        now=created,
        ttl=timedelta(hours=24),
        warnings=(
            RequestWarning("apple_id_changed", "warning", "The Apple ID differs."),
            RequestWarning("ünïcode", "info", "Ünïcode survives — ✓"),
        ),
        reason="CHG-42: yearly renewal",
        current=CURRENT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def every_field_set() -> ChangeRequest:
    """A request with every optional field filled, times in a non-UTC zone."""
    zone = timezone(timedelta(hours=5, minutes=30))
    return request(
        status=Status.FAILED,
        updated_at=(T0 + timedelta(hours=2)).astimezone(zone),
        approvals=(Approval("UA", T0 + timedelta(minutes=5)), Approval("UB", T0 + timedelta(1))),
        rejection=Rejection("UC", T0 + timedelta(hours=1), "wrong file"),
        message_channel="C0123ABCD",
        message_ts="1700000000.000100",
        result=ApplyResult(TOPIC, "1C2D3E4F5A6B7C8D", datetime(2027, 3, 1, 8, 59, 59, tzinfo=UTC)),
        failure=Failure("InternalServerError", '{"Message": "nested"}', "6f1c-req"),
        attempts=3,
    )


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on the file with a separate, closed-afterwards connection."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
