"""Renewals and Applying as units: a real SQLite store in tmp_path, recording fakes for Graph and
Slack, the suite's fixed clock and a sleep that only records (the flows through the running bot
are in tests/flows/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.store import SqliteStore
from bot.core.requests import Status
from bot.errors import GraphError
from bot.usecases.applying import APPLYING_LEASE, Applying, UploadRetry
from bot.usecases.renewals import NotDecidableError, Renewals
from tests.certgen import GeneratedCert, apple_ca, make_push_cert
from tests.clock import T0, MovableClock, RecordingSleep
from tests.usecases.fakes import (
    APPLE_ID,
    LEAD_1,
    LEAD_2,
    REQUESTER,
    TENANT,
    FakeGraph,
    FixedApprovers,
    RecordingMetrics,
    RecordingNotifier,
    as_graph_reports,
    settings,
)


@dataclass
class World:
    renewals: Renewals
    applying: Applying
    store: SqliteStore
    graph: FakeGraph
    notifier: RecordingNotifier
    clock: MovableClock
    sleep: RecordingSleep
    current: GeneratedCert
    metrics: RecordingMetrics

    def renewal(self) -> GeneratedCert:
        """Apple's renewal of the tenant's certificate: same topic, a year from now."""
        return make_push_cert(topic_uuid=self.current.uuid)

    def submit(self, certificate: GeneratedCert | None = None, requester: str = REQUESTER) -> str:
        content = (certificate or self.renewal()).pem
        submission = self.renewals.submit(TENANT, requester, APPLE_ID, content)
        assert submission.request is not None, submission.inspection.problems
        return submission.request.id

    def status(self, request_id: str) -> Status:
        request = self.store.get_request(request_id)
        assert request is not None
        return request.status


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """The use cases over a fresh store; ``parametrize("world", [n], indirect=True)``: ``n``
    approvals required (default 1)."""
    required_approvals: int = getattr(request, "param", 1)
    clock = MovableClock()
    sleep = RecordingSleep()
    current = make_push_cert(not_before=T0 - timedelta(days=340))
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    graph = FakeGraph(as_graph_reports(current))
    notifier = RecordingNotifier()
    config = settings(required_approvals=required_approvals)
    metrics = RecordingMetrics()
    applying = Applying(
        config, store, graph, notifier, clock, retry=UploadRetry(sleep=sleep), metrics=metrics
    )
    trust = apple_ca().trust_anchors()
    renewals = Renewals(
        config,
        store,
        graph,
        notifier,
        FixedApprovers(),
        lambda: trust,
        clock,
        applying,
        metrics=metrics,
    )
    yield World(renewals, applying, store, graph, notifier, clock, sleep, current, metrics)
    store.close()


def test_a_renewal_that_passes_the_checks_waits_for_approval(world: World) -> None:
    request_id = world.submit()
    request = world.store.get_request(request_id)
    assert request is not None and request.status is Status.PENDING
    assert request.requester == REQUESTER and request.topic == world.current.topic
    assert world.notifier.said("post_request") == [request_id]
    assert world.graph.uploads == []


def test_a_certificate_with_another_topic_is_refused_before_anyone_is_asked(world: World) -> None:
    submission = world.renewals.submit(TENANT, REQUESTER, APPLE_ID, make_push_cert().pem)
    assert submission.request is None and submission.inspection.blocking
    assert world.notifier.calls == []


def test_a_request_nobody_could_see_is_cancelled(world: World) -> None:
    world.notifier.refuse_posts = True
    submission = world.renewals.submit(TENANT, REQUESTER, APPLE_ID, world.renewal().pem)
    assert submission.request is not None and not submission.posted
    assert world.status(submission.request.id) is Status.CANCELLED


def test_someone_elses_open_request_makes_a_new_one_wait(world: World) -> None:
    first = world.submit()
    second = world.renewals.submit(TENANT, LEAD_2, APPLE_ID, world.renewal().pem)
    assert second.request is None and second.waiting_for is not None
    assert second.waiting_for.id == first


def test_an_approval_uploads_once_and_reads_back(world: World) -> None:
    renewal = world.renewal()
    request_id = world.submit(renewal)
    assert world.renewals.approve(request_id, LEAD_1) is None
    assert world.status(request_id) is Status.APPLIED
    assert world.graph.uploads == [(APPLE_ID, renewal.pem.decode())]
    assert world.graph.current.serial == renewal.serial
    assert world.store.get_snapshot(TENANT.name) == world.graph.current
    assert world.notifier.said("post_renewed") == [request_id]


def test_only_an_approver_other_than_the_requester_may_approve(world: World) -> None:
    request_id = world.submit(requester=LEAD_1)
    assert world.renewals.approve(request_id, "USTRANGER")
    assert world.renewals.approve(request_id, LEAD_1)  # their own request
    assert world.status(request_id) is Status.PENDING and world.graph.uploads == []


def test_a_click_on_a_request_that_does_not_exist_says_so(world: World) -> None:
    with pytest.raises(NotDecidableError, match="does not exist"):
        world.renewals.approve("r-unknown", LEAD_1)


def test_an_upload_whose_answer_was_lost_but_landed_is_not_sent_again(world: World) -> None:
    world.graph.failures = [GraphError("Intune answered 500.", status=500)]
    world.graph.land_failed_uploads = True
    request_id = world.submit()
    world.renewals.approve(request_id, LEAD_1)
    assert world.status(request_id) is Status.APPLIED
    assert len(world.graph.uploads) == 1 and world.sleep.delays == []


def test_an_upload_that_did_not_land_is_tried_again_after_a_backoff(world: World) -> None:
    world.graph.failures = [GraphError("Timed out.", status=None)]
    request_id = world.submit()
    world.renewals.approve(request_id, LEAD_1)
    assert world.status(request_id) is Status.APPLIED
    assert len(world.graph.uploads) == 2 and world.sleep.delays == [1.0]


def test_a_refused_upload_fails_and_an_approver_retries_it(world: World) -> None:
    world.graph.failures = [GraphError("Forbidden.", status=403, code="Forbidden")]
    request_id = world.submit()
    world.renewals.approve(request_id, LEAD_1)
    request = world.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "Forbidden"
    assert world.notifier.said("post_failed") == [request_id]
    assert world.renewals.retry(request_id, LEAD_2) is None
    assert world.status(request_id) is Status.APPLIED and len(world.graph.uploads) == 2


def test_a_rejection_closes_the_request_and_rerenders_it(world: World) -> None:
    request_id = world.submit()
    assert world.renewals.reject(request_id, LEAD_1, "wrong Apple account") is None
    assert world.status(request_id) is Status.REJECTED
    assert world.notifier.said("update_request")[-1] == request_id
    assert world.renewals.reject(request_id, LEAD_2, "again") is not None


def test_an_unapproved_request_expires_after_its_time(world: World) -> None:
    request_id = world.submit()
    assert world.applying.expire_due() == []
    world.clock.advance(hours=25)
    assert [r.id for r in world.applying.expire_due()] == [request_id]
    assert world.status(request_id) is Status.EXPIRED


def test_reconcile_settles_an_upload_a_crash_interrupted(world: World) -> None:
    request_id = world.submit()
    world.store.add_approval(request_id, LEAD_1, world.clock())
    world.store.transition(request_id, Status.PENDING, Status.APPROVED, world.clock())
    world.store.transition(request_id, Status.APPROVED, Status.APPLYING, world.clock())
    world.applying.reconcile()  # within the lease: another replica may be uploading it
    assert world.status(request_id) is Status.APPLYING
    world.clock.advance(seconds=APPLYING_LEASE.total_seconds())
    world.applying.reconcile()
    request = world.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "interrupted"
    assert world.graph.uploads == []


# --- what is counted (apns_bot_requests_total, _approvals_total, _uploads_total) ----------------


def test_each_submission_is_counted_by_what_became_of_it(world: World) -> None:
    world.graph.read_failure = GraphError("Graph could not be reached.", status=None)
    with pytest.raises(GraphError):
        world.renewals.submit(TENANT, REQUESTER, APPLE_ID, world.renewal().pem)
    world.graph.read_failure = None
    world.renewals.submit(TENANT, REQUESTER, APPLE_ID, make_push_cert().pem)  # another topic
    world.submit()
    world.renewals.submit(TENANT, LEAD_2, APPLE_ID, world.renewal().pem)  # waits for the first
    world.notifier.refuse_posts = True
    world.renewals.submit(TENANT, REQUESTER, APPLE_ID, world.renewal().pem)
    assert world.metrics.counted == [
        ("requests", "push:error"),
        ("requests", "push:blocked"),
        ("requests", "push:sent"),
        ("requests", "push:waiting"),
        ("requests", "push:unposted"),
    ]


def test_each_decision_and_upload_is_counted(world: World) -> None:
    expiring = world.submit()
    world.clock.advance(hours=25)
    world.applying.expire_due()
    assert world.status(expiring) is Status.EXPIRED
    refused = world.submit()
    world.renewals.approve(refused, "USTRANGER")
    world.renewals.reject(refused, LEAD_1, None)
    world.renewals.reject(refused, LEAD_2, None)  # decided already
    withdrawn = world.submit()
    world.renewals.reject(withdrawn, REQUESTER, None)
    world.graph.failures = [GraphError("Forbidden.", status=403, code="Forbidden")]
    failed = world.submit()
    world.renewals.approve(failed, LEAD_1)
    world.renewals.retry(failed, LEAD_2)
    assert [c for c in world.metrics.counted if c[0] != "requests"] == [
        ("approvals", "push:expired"),
        ("approvals", "push:refused"),
        ("approvals", "push:rejected"),
        ("approvals", "push:refused"),
        ("approvals", "push:cancelled"),
        ("approvals", "push:approved"),
        ("uploads", "push:failed"),
        ("uploads", "push:applied"),
    ]


@pytest.mark.parametrize("world", [2], indirect=True)
def test_an_approval_that_is_not_the_last_one_is_recorded(world: World) -> None:
    request_id = world.submit()
    world.renewals.approve(request_id, LEAD_1)
    world.renewals.approve(request_id, LEAD_1)  # the same lead again
    world.renewals.approve(request_id, LEAD_2)
    assert world.metrics.counted == [
        ("requests", "push:sent"),
        ("approvals", "push:recorded"),
        ("approvals", "push:refused"),
        ("approvals", "push:approved"),
        ("uploads", "push:applied"),
    ]
