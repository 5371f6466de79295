"""Two replicas on one PostgreSQL database: a token's renewal (twenty approvals, one upload) and
its reminders and problems (each posted once by the two, and never again after a restart)."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.requests import Status
from tests.clock import days
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_pg_replicas import approve_on_both
from tests.flows.test_token_watch import check, posts, set_tokens, token, token_posts
from tests.flows.token_flow import pending_token_request, renewed_notice, syncs, uploads
from tests.harness import MovableClock, RunningBot
from tests.races import race
from tests.tokengen import ade_token_file, intune_key, vpp_token_file


def test_twenty_approvals_of_a_vpp_token_on_two_replicas_give_one_patch_and_one_sync(
    start_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    one, two = start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_token_request(one, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.set_latency(0.2)  # the upload is still running while later clicks arrive
    approve_on_both(one, two, request_id)
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
    approve_on_both(one, two, request_id)
    renewed_notice(fake_slack)
    one.wait_idle()
    two.wait_idle()
    assert len(uploads(fake_graph, "ade")) == 1
    stored = two.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED and stored.attempts == 1


def test_both_replicas_checking_tokens_at_once_post_each_reminder_and_problem_once(
    start_bot: Callable[..., RunningBot],
    pg_url: str,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    clock: MovableClock,
) -> None:
    """Each replica has its own connection pool; only the database decides who posts."""
    replicas = [start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)]
    set_tokens(fake_graph, "ade", [token("ade", clock, 6.5)])
    invalid = token("vpp", clock, 200, id="vpp-elsewhere", state="assignedToExternalMDM")
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 13.5), invalid])
    results = race(len(replicas), lambda i: check(replicas[i]))  # none raised or hung
    posted = sorted(p for r in results for p in token_posts(r))
    assert posted == ["ade reminder 7", "vpp problem state", "vpp reminder 14"]
    assert len(posts(fake_slack, "expires soon")) == 2
    assert len(posts(fake_slack, "assignedToExternalMDM")) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 3

    clock.advance(days=1)  # the next daily check, still inside the same thresholds
    restarted = start_bot(APNS_DATABASE_URL=pg_url)  # new stores on the same database
    assert check(restarted).posted == ()
    assert len(fake_slack.calls_to("chat.postMessage")) == 3
