"""Start-up reconcile of token requests a crash left in ``applying``: a tenant whose Graph client
cannot even be built is skipped (retried by the next reconcile), and the others are settled."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.store import SqliteStore
from bot.config import TenantSettings
from bot.core.requests import Status, TokenChange, new_change_request
from bot.core.tokens import CredentialKind
from bot.errors import AuthError
from bot.usecases.applying import APPLYING_LEASE, Applying
from bot.usecases.ports import GraphClient
from tests.clock import T0, MovableClock, days
from tests.usecases.fakes import APPLE_ID, LEAD_1, REQUESTER, TENANT, RecordingNotifier, settings


def _applying_token_request(store: SqliteStore, clock: MovableClock, request_id: str) -> None:
    change = TokenChange(kind=CredentialKind.VPP, token_id="t1", current_expiry=days(20))
    request = new_change_request(
        id=request_id,
        tenant=TENANT.name,
        requester=REQUESTER,
        apple_id=APPLE_ID,
        certificate_pem="file",
        sha256="00",
        topic="",
        serial="",
        not_after=days(365),
        now=clock(),
        ttl=days(1) - T0,
        token=change,
    )
    assert store.create_request(request) is None
    store.add_approval(request_id, LEAD_1, clock())
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, clock())
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, clock())


def test_a_tenant_whose_graph_client_cannot_be_built_does_not_stop_the_reconcile(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    built: list[str] = []

    def no_client(tenant: TenantSettings) -> GraphClient:
        built.append(tenant.name)
        raise AuthError("the tenant's sign-in is not configured")

    applying = Applying(settings(), store, no_client, RecordingNotifier(), clock)
    _applying_token_request(store, clock, "req_a")
    _applying_token_request(store, clock, "req_b")
    clock.advance(seconds=APPLYING_LEASE.total_seconds())
    applying.reconcile()  # must not raise
    assert built == [TENANT.name, TENANT.name]  # both were tried: the first failure stopped nothing
    for request_id in ("req_a", "req_b"):
        request = store.get_request(request_id)
        assert request is not None and request.status is Status.APPLYING  # left for next time
