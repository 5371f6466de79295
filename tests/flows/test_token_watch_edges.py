"""Token watch edges: a token Graph lists without an id, a kind Graph answers 400 for, two
replicas checking at once, and a kind that leaves the watch list.

Through the fake Graph and fake Slack, with a real SQLite file, as ``test_token_watch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.reminders import CheckState
from bot.core.tokens import CredentialKind
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_tokens import without_id
from tests.fakes.slack_server import FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.flows.test_metrics_flow import scrape
from tests.flows.test_token_watch import (
    KINDS,
    Kind,
    check,
    posts,
    read_of,
    set_tokens,
    token,
    token_posts,
)
from tests.harness import LEAD_1, REQUESTER, MovableClock, RunningBot
from tests.races import race
from tests.slack.test_home import open_home, published, view_of


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_without_an_id_is_skipped_and_the_others_are_still_reminded(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idless = without_id(token(kind, clock, 3, name="No id"))
    kept = token(kind, clock, 20, id=f"{kind}-kept", name="Kept")
    set_tokens(fake_graph, kind, [idless, kept])
    bot = start_bot()
    with caplog.at_level("WARNING", logger="bot.adapters.graph.tokens"):
        first = check(bot)
    assert [t.id for t in read_of(first, kind).tokens] == [f"{kind}-kept"]
    assert first.state is CheckState.ATTENTION and first.posted == (f"{kind} reminder 30",)
    [reminder] = posts(fake_slack, "expires soon")
    assert "Kept" in str(reminder.params) and "No id" not in str(reminder.params)
    assert any("without an id" in r.getMessage() for r in caplog.records)
    assert check(bot).posted == () and check(start_bot()).posted == ()  # still once


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_graph_answers_400_for_is_posted_once_and_hides_no_other_kind(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    """Graph's 400 "Request not applicable to target tenant." (Intune's feature not usable in the
    tenant) for one kind: a problem of that kind, said once; the others are read and reminded."""
    other: Kind = "vpp" if kind == "ade" else "ade"
    fake_graph.apple_tokens.not_applicable(FAKE_TENANT_ID, kind)
    set_tokens(fake_graph, other, [token(other, clock, 10)])
    result = check(bot)
    assert result.state is CheckState.FAILED
    assert result.certificate is not None and result.error is None  # the certificate still read
    assert sorted(token_posts(result)) == sorted([f"{kind} read failed", f"{other} reminder 14"])
    error = read_of(result, kind).error
    assert error.code == "BadRequest" and "not applicable to target tenant" in error.message
    assert read_of(result, other).ok and len(read_of(result, other).tokens) == 1
    [failed] = posts(fake_slack, "I cannot read the")
    assert CredentialKind(kind).label in failed.params["text"]
    assert "not applicable to target tenant" in json.dumps(failed.params)

    clock.advance(days=1)
    again = check(bot)
    assert again.state is CheckState.FAILED and again.posted == ()  # one notice per streak
    assert len(posts(fake_slack, "I cannot read the")) == 1


def test_two_replicas_on_one_database_post_each_reminder_once(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    first, second = start_bot(), start_bot()
    set_tokens(fake_graph, "ade", [token("ade", clock, 6.5)])
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 13.5)])
    # both checks run to the end: a hung or failed one fails the race
    results = race(2, lambda i: check((first, second)[i]))
    posted = sorted(p for r in results for p in token_posts(r))
    assert posted == ["ade reminder 7", "vpp reminder 14"]
    assert len(posts(fake_slack, "expires soon")) == 2


# --- a kind that leaves the watch list (the grace period: tests/flows/test_unwatched.py) -------


def test_metrics_and_the_home_tab_leave_out_a_kind_no_longer_watched(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    set_tokens(fake_graph, "ade", [token("ade", clock, 200, name="Enrollment")])
    check(start_bot())  # every kind seen and kept

    bot = start_bot(APNS_WATCH="vpp")  # a restart: metrics seeded from the store
    assert watched_kinds(bot) == set()  # no certificate seeded from its stale snapshot
    clock.advance(days=1)
    check(bot)
    assert watched_kinds(bot) == {"vpp"}
    open_home(bot, user=LEAD_1)
    view = json.dumps(view_of(published(fake_slack, "Watched items", user=LEAD_1)))
    assert "Apps and Books" in view
    assert "Enrollment" not in view and "Automated Device Enrollment" not in view
    assert "push certificate" not in view.lower()


def watched_kinds(bot: RunningBot) -> set[str]:
    """The kinds the expiry and check-success gauges have series for."""
    _, found = scrape(bot.base)
    gauges = ("apns_bot_expiry_timestamp_seconds", "apns_bot_check_success")
    return {dict(labels)["kind"] for name, labels in found if name in gauges}


def test_the_fleet_home_tab_shows_no_certificate_once_push_is_not_watched(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    """Before the first check after a restart, the fleet rows come from the store: a snapshot of
    a certificate no longer watched is not shown as if it were."""
    env = fleet_file(tmp_path, fake_graph, viewers=[REQUESTER])
    for tenant_id in TENANTS.values():
        fake_graph.apple_tokens.set(tenant_id, "ade", [])
    start_bot(**env).deps.watch.check_all()  # every tenant's certificate kept, no ADE token
    bot = start_bot(**env, APNS_WATCH="ade")
    open_home(bot)
    view = json.dumps(published(fake_slack, "all tenants").params["view"])
    assert all(f"(`{name}`)" in view for name in TENANTS)
    assert "push certificate" not in view and "mdm-admin@" not in view  # the certificate's owner


def _written(bot: RunningBot) -> dict[str, object]:
    """When each snapshot of the tenant was last written (the store's own time column)."""
    states = [
        *bot.deps.store.list_states("certificate_snapshot", "default"),
        *bot.deps.store.list_states("token_snapshot:", "default"),
    ]
    return {key: written for _, key, _, written in states}


def test_a_quiet_check_writes_no_snapshot_again_and_a_change_does(
    bot: RunningBot, clock: MovableClock, fake_graph: FakeGraph
) -> None:
    """A snapshot is written when what Graph shows changed, not on every check: each write is a
    durable commit, three per tenant a day across a fleet otherwise."""
    assert check(bot).state is CheckState.OK
    first = _written(bot)
    assert set(first) == {"certificate_snapshot", "token_snapshot:ade", "token_snapshot:vpp"}
    clock.advance(days=1)
    assert check(bot).state is CheckState.OK
    assert _written(bot) == first  # nothing changed: nothing written

    clock.advance(days=1)
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 400)])  # renewed outside the bot
    check(bot)
    after = _written(bot)
    assert after["token_snapshot:vpp"] == clock()  # written at this check
    assert {k: v for k, v in after.items() if k != "token_snapshot:vpp"} == {
        k: v for k, v in first.items() if k != "token_snapshot:vpp"
    }
