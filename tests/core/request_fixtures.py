"""A pending change request to vary in the core tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.model import TenantCertificate
from bot.core.requests import Approval, ChangeRequest, RequestWarning, new_change_request
from tests.clock import T0

# T0 is the suite's anchor (tests/clock.py); a renewal is valid for a year less a second from it
NOT_AFTER = T0 + timedelta(days=365, seconds=-1)
TOPIC = "com.apple.mgmt.External.2b1f6c2e-8d6a-4a51-9a0b-3f4c5d6e7f80"
CURRENT = TenantCertificate(
    apple_id="mdm@example.com",
    topic=TOPIC,
    serial="0B7002EFEA6BA6D0",
    expires_at=T0 + timedelta(days=19, hours=-1),
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
