"""A pending change request to vary in the core tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.model import TenantCertificate
from bot.core.requests import Approval, ChangeRequest, RequestWarning, new_change_request

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOT_AFTER = datetime(2027, 3, 1, 8, 59, 59, tzinfo=UTC)
TOPIC = "com.apple.mgmt.External.2b1f6c2e-8d6a-4a51-9a0b-3f4c5d6e7f80"
CURRENT = TenantCertificate(
    apple_id="mdm@example.com",
    topic=TOPIC,
    serial="0B7002EFEA6BA6D0",
    expires_at=datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
)
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def make(**changes: object) -> ChangeRequest:
    base = new_change_request(
        id="req_01J0000000000000000000000A",
        tenant="default",
        requester="UREQ",
        apple_id="mdm@example.com",
        certificate_pem=PEM,
        sha256="ab" * 32,
        topic=TOPIC,
        serial="1C2D3E4F5A6B7C8D",
        not_after=NOT_AFTER,
        now=T0,
        ttl=timedelta(hours=24),
        warnings=(RequestWarning("expires_soon", "warning", "Short validity"),),
        reason="  CHG-42 ",
        current=CURRENT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def approved_by(*users: str) -> tuple[Approval, ...]:
    return tuple(Approval(u, T0 + timedelta(minutes=i)) for i, u in enumerate(users))
