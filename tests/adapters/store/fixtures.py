"""Building blocks for the store tests: fully populated change requests and raw file access."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta, timezone
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
from tests.clock import T0 as SUITE_T0

T0 = SUITE_T0 + timedelta(microseconds=123456)  # sub-second precision must survive the store
NOT_AFTER = SUITE_T0 + timedelta(days=365, seconds=-1)
TOPIC = "com.apple.mgmt.External.2b1f6c2e-8d6a-4a51-9a0b-3f4c5d6e7f80"
PEM_BODY = "MIIFjTCCBHWgAwIBAgIIC3AC7+prptAwDQYJKoZIhvcNAQELBQAwgYwxQDA+BgNV"
PEM = f"-----BEGIN CERTIFICATE-----\n{PEM_BODY}\n-----END CERTIFICATE-----\n"
CURRENT = TenantCertificate(
    apple_id="mdm@example.com",
    topic=TOPIC,
    serial="0B7002EFEA6BA6D0",
    expires_at=SUITE_T0 + timedelta(days=19, hours=-1),
    upload_status="ok",
    upload_failure_reason="none",
    last_modified=SUITE_T0 - timedelta(days=346, hours=1, seconds=-1, microseconds=-5),
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
        not_after=NOT_AFTER,
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
        result=ApplyResult(TOPIC, "1C2D3E4F5A6B7C8D", NOT_AFTER),
        failure=Failure("InternalServerError", '{"Message": "nested"}', "6f1c-req"),
        attempts=3,
    )


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement on the file with a separate, closed-afterwards connection."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
