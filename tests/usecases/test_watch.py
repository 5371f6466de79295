"""The expiry watch as a unit: a real SQLite store in tmp_path, a recording Slack notifier, a
fake Graph and the suite's fixed clock (the watch inside the running bot: tests/flows/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.store import SqliteStore
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState
from bot.core.requests import Status, TokenChange, new_change_request
from bot.core.tokens import CredentialKind
from bot.errors import GraphError
from bot.usecases.watch import CheckResult, Watch
from bot.usecases.watch_state import FAILING_KEY, RETRY_PREFIX, RetryMark
from tests.clock import T0, MovableClock
from tests.usecases.fakes import (
    APPLE_ID,
    TENANT,
    FakeGraph,
    RecordingWatchNotifier,
    settings,
)

TOPIC = "com.apple.mgmt.External.6c1b3f5e-3a7d-4c21-9b0e-1f2a3b4c5d6e"


def certificate(days_left: float, serial: str = "0B7002EFEA6BA6D0") -> TenantCertificate:
    return TenantCertificate(APPLE_ID, TOPIC, serial, T0 + timedelta(days=days_left))


@dataclass
class World:
    watch: Watch
    store: SqliteStore
    graph: FakeGraph
    slack: RecordingWatchNotifier
    clock: MovableClock
    checked: list[CheckResult]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = MovableClock()
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    graph = FakeGraph(certificate(200))
    slack = RecordingWatchNotifier()
    checked: list[CheckResult] = []
    watch = Watch(settings(), store, graph, slack, clock, on_checked=checked.append)
    yield World(watch, store, graph, slack, clock, checked)
    store.close()


def test_a_healthy_certificate_posts_nothing_and_is_remembered(world: World) -> None:
    result = world.watch.check(TENANT)
    assert result.state is CheckState.OK and result.posted == ()
    assert world.slack.posts == [] and world.checked == [result]
    assert world.store.get_snapshot(TENANT.name) == world.graph.current


def test_a_due_reminder_is_posted_once(world: World) -> None:
    world.graph.current = certificate(29.5)
    first = world.watch.check(TENANT)
    assert first.reminder is not None and first.reminder.threshold == "30"
    assert first.posted == ("reminder 30",) and first.state is CheckState.ATTENTION
    world.clock.advance(hours=6)
    assert world.watch.check(TENANT).posted == ()
    assert world.slack.posts == ["reminder 30"]


def test_a_reminder_slack_refused_is_retried_soon_and_posted_once(world: World) -> None:
    world.graph.current = certificate(29.5)
    world.slack.accept = False
    assert world.watch.check(TENANT).posted == ()
    [(_, key, value, written)] = world.store.list_states(RETRY_PREFIX, TENANT.name)
    assert key.startswith(RETRY_PREFIX + "reminder:")
    mark = RetryMark.read(value, written)
    assert mark.refused == T0 and mark.since == T0 and not mark.in_flight(T0)
    world.slack.accept = True
    world.clock.advance(minutes=15)
    [retried] = world.watch.retry_refused()
    assert retried.posted == ("reminder 30",)
    assert world.store.list_states(RETRY_PREFIX, TENANT.name) == []
    assert world.watch.retry_refused() == []


def test_a_failing_read_is_reported_once_and_its_end_too(world: World) -> None:
    world.graph.read_failure = GraphError("Graph could not be reached.")
    failed = world.watch.check(TENANT)
    assert failed.state is CheckState.FAILED and failed.error == "Graph could not be reached."
    world.clock.advance(hours=1)
    assert world.watch.check(TENANT).posted == ()
    assert world.store.get_state(TENANT.name, FAILING_KEY) is not None
    world.graph.read_failure = None
    world.clock.advance(hours=1)
    assert world.watch.check(TENANT).posted == ("recovered",)
    assert world.slack.posts == ["check failed", "recovered"]
    assert world.store.get_state(TENANT.name, FAILING_KEY) is None


def test_a_change_made_outside_the_bot_is_reported_once(world: World) -> None:
    world.watch.check(TENANT)
    world.graph.current = replace(certificate(365), serial="1C2D3E4F5A6B7C8D")
    world.clock.advance(days=1)
    changed = world.watch.check(TENANT)
    assert changed.change is not None and changed.posted == (f"change {changed.change.kind.value}",)
    assert world.store.get_snapshot(TENANT.name) == world.graph.current
    world.clock.advance(days=1)
    assert world.watch.check(TENANT).posted == ()


def test_every_tenant_is_checked_and_one_failing_hides_none(tmp_path: Path) -> None:
    other = replace(TENANT, name="contoso", channel="C0CONTOSO")
    healthy, failing = FakeGraph(certificate(200)), FakeGraph(certificate(200))
    failing.read_failure = GraphError("Forbidden.", status=403)
    graphs = {TENANT.name: healthy, other.name: failing}
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    config = replace(settings(), tenants={TENANT.name: TENANT, other.name: other})
    watch = Watch(config, store, lambda t: graphs[t.name], RecordingWatchNotifier(), MovableClock())
    try:
        results = watch.check_all(max_workers=2)
    finally:
        store.close()
    assert [(r.tenant, r.state) for r in results] == [
        (TENANT.name, CheckState.OK),
        (other.name, CheckState.FAILED),
    ]


def _applied(world: World, request_id: str, serial: str, token: TokenChange | None) -> None:
    request = new_change_request(
        id=request_id,
        tenant=TENANT.name,
        requester="U_REQUESTER",
        apple_id=APPLE_ID,
        certificate_pem="pem",
        sha256="00",
        topic=TOPIC,
        serial=serial,
        not_after=T0 + timedelta(days=365),
        now=world.clock(),
        ttl=timedelta(hours=24),
        token=token,
    )
    assert world.store.create_request(request) is None
    now = world.clock()
    world.store.add_approval(request_id, "U_LEAD", now)
    assert world.store.transition(request_id, Status.PENDING, Status.APPROVED, now)
    assert world.store.transition(request_id, Status.APPROVED, Status.APPLYING, now)
    assert world.store.transition(request_id, Status.APPLYING, Status.APPLIED, now)
    world.clock.advance(minutes=1)


def test_the_bots_own_certificate_renewal_is_recognised_behind_many_token_renewals(
    world: World,
) -> None:
    world.watch.check(TENANT)
    _applied(world, "req_push", "1C2D3E4F5A6B7C8D", None)
    for n in range(6):  # newer applied token requests must not push the certificate's out
        change = TokenChange(kind=CredentialKind.VPP, token_id=f"t{n}")
        _applied(world, f"req_vpp{n}", "", change)
    world.graph.current = replace(certificate(365), serial="1C2D3E4F5A6B7C8D")
    result = world.watch.check(TENANT)
    assert result.change is None and result.posted == ()
