"""Two replicas on one PostgreSQL database renewing a token: twenty approvals, one upload."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bot.core.requests import Status
from bot.slack.ids import Action
from tests.clock import days
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import pending_token_request, renewed_notice, syncs, uploads
from tests.harness import GROUP_LEAD, LEAD_1, LEAD_2, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

CLICKS = 20


def _race(one: RunningBot, two: RunningBot, request_id: str) -> None:
    approvers = [LEAD_1, LEAD_2, GROUP_LEAD]
    barrier = threading.Barrier(CLICKS)

    def click(i: int) -> None:
        barrier.wait(timeout=30)
        (one, two)[i % 2].slack.click(Action.APPROVE, request_id, approvers[i % 3])

    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        list(pool.map(click, range(CLICKS)))


def test_twenty_approvals_of_a_vpp_token_on_two_replicas_give_one_patch_and_one_sync(
    start_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    one, two = start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_token_request(one, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.set_latency(0.2)  # the upload is still running while later clicks arrive
    _race(one, two, request_id)
    renewed_notice(fake_slack)
    one.wait_idle()
    two.wait_idle()
    assert len(uploads(fake_graph, "vpp")) == 1 and len(syncs(fake_graph)) == 1
    stored = two.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED and stored.attempts == 1


def test_twenty_approvals_of_an_ade_token_on_two_replicas_give_one_upload(
    start_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    one, two = start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)
    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(one, fake_slack, "ade", content)
    fake_graph.set_latency(0.2)
    _race(one, two, request_id)
    renewed_notice(fake_slack)
    one.wait_idle()
    two.wait_idle()
    assert len(uploads(fake_graph, "ade")) == 1
    stored = two.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED and stored.attempts == 1
