"""Two replicas reconcile the same request left ``applying`` at once: one settles it, and the
history says ``reconciled`` once (SQLite here; ``test_pg_replicas`` does it across processes)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.core.requests import Status
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import patches, pending_request, renewal
from tests.harness import LEAD_1, RunningBot


def test_two_replicas_reconciling_at_once_audit_it_once(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_bot()
    request_id = pending_request(first, fake_slack, renewal())
    store, now = first.deps.store, first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)  # ...then the crash
    first.wait_idle()
    second = start_bot()  # same database file
    for replica in (first, second):
        replica.clock.advance(minutes=11)  # past the lease

    fake_graph.hold()  # both read Intune back before either settles the request
    threads = [threading.Thread(target=r.deps.applying.reconcile) for r in (first, second)]
    for thread in threads:
        thread.start()
    fake_graph.wait_held(count=2)
    fake_graph.release()
    for thread in threads:
        thread.join(timeout=30)

    settled = second.deps.store.get_request(request_id)
    assert settled is not None and settled.status is Status.FAILED
    assert patches(fake_graph) == []
    history = second.deps.store.history("default", request_id=request_id, limit=100)
    assert [e.event for e in history].count("reconciled") == 1
