"""A kind taken out of ``APNS_WATCH`` / ``watch``: forgotten after a week, not at once.

Through the fake Graph and fake Slack, with a real SQLite file shared by every bot a test starts
(as replicas, or a redeploy, or ``apns-bot check`` from cron with its own environment, would
share the database). See ``bot.usecases.unwatched``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.core.reminders import CheckState
from bot.slack.ids import Action
from bot.usecases.ports import Store
from bot.usecases.unwatched import FORGET_AFTER, all_markers
from bot.usecases.watch import CheckResult
from tests.fakes.graph_faults import Fault
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_shapes import CERT_PATH, odata_timestamp
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_token_watch import KINDS, Kind, check, posts, read_of, set_tokens, token
from tests.harness import LEAD_1, MovableClock, RunningBot

TENANT = "default"


def audits(store: Store, kind: str | None = None) -> int:
    """How many ``kind_unwatched`` events (of ``kind``, or of any kind) were audited."""
    events = [e for e in store.history(TENANT, limit=500) if e.event == "kind_unwatched"]
    return len([e for e in events if kind is None or e.detail == {"kind": kind}])


def other_than(kind: Kind) -> Kind:
    return "vpp" if kind == "ade" else "ade"


def test_a_week_is_the_grace_period() -> None:
    assert timedelta(days=7) == FORGET_AFTER


# --- (a) unwatched for more than a week, then watched again: a fresh baseline -------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_unwatched_for_over_a_week_is_forgotten_and_watched_again_afresh(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    kept = token(kind, clock, 200, id=f"{kind}-kept", name="Kept")
    gone = token(kind, clock, 250, id=f"{kind}-gone", name="Gone")
    set_tokens(fake_graph, kind, [kept, gone])
    store = start_bot().deps.store
    assert check(start_bot()).posted == ()  # the first look takes note
    snapshot_key = f"token_snapshot:{kind}"

    unwatching = start_bot(APNS_WATCH=f"push,{other_than(kind)}")  # as after a redeploy
    clock.advance(days=1)
    assert check(unwatching).posted == ()
    marker = store.get_state(TENANT, f"unwatched:{kind}")
    assert marker == {"since": clock().isoformat()}
    for _ in range(6):  # within the week: nothing dropped, the marker not rewritten
        clock.advance(days=1)
        assert check(unwatching).posted == ()
        assert store.get_state(TENANT, snapshot_key) is not None
        assert store.get_state(TENANT, f"unwatched:{kind}") == marker
    assert audits(store) == 0

    # meanwhile, nobody watching: one renewed, one removed, one added
    renewed = token(kind, clock, 565, id=f"{kind}-kept", name="Kept")
    added = token(kind, clock, 300, id=f"{kind}-added", name="Added")
    set_tokens(fake_graph, kind, [renewed, added])
    clock.advance(days=1)  # a week after the marker
    assert check(unwatching).posted == ()
    assert store.get_state(TENANT, snapshot_key) is None  # dropped
    assert store.get_state(TENANT, f"token_snapshot:{other_than(kind)}") is not None  # watched
    [event] = [e for e in store.history(TENANT) if e.event == "kind_unwatched"]
    assert event.detail == {"kind": kind} and event.actor == "system"
    clock.advance(days=1)
    assert check(unwatching).posted == ()
    assert audits(store) == 1  # once

    clock.advance(days=1)
    rewatched = check(start_bot())
    assert rewatched.posted == ()  # not "renewed / appeared / disappeared outside apns-bot"
    assert posts(fake_slack, "outside apns-bot") == []
    assert len(read_of(rewatched, kind).tokens) == 2
    assert store.get_state(TENANT, f"unwatched:{kind}") is None  # the watcher deleted it
    assert audits(store) == 1

    set_tokens(fake_graph, kind, [renewed])  # a change seen while watched is still announced
    assert check(start_bot()).posted == (f"{kind} disappeared",)


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_streak_of_a_kind_unwatched_for_a_week_is_dropped(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind)
    bot = start_bot()
    assert check(bot).posted == (f"{kind} read failed",)
    store = bot.deps.store
    unwatching = start_bot(APNS_WATCH=other_than(kind))
    assert check(unwatching).state is CheckState.OK
    assert store.get_state(TENANT, f"token_failing:{kind}") is not None  # kept for a week
    clock.advance(days=7)
    assert check(unwatching).state is CheckState.OK
    assert store.get_state(TENANT, f"token_failing:{kind}") is None
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind, denied=False)
    again = check(start_bot())  # watched again and readable: no streak to end, nothing said
    assert again.posted == () and read_of(again, kind).ok


def test_a_push_certificate_unwatched_for_over_a_week_is_watched_again_afresh(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    bot = start_bot()
    check(bot)
    store = bot.deps.store
    assert store.get_snapshot(TENANT) is not None
    fake_graph.inject("GET", CERT_PATH, Fault.forbidden())
    assert "check failed" in check(bot).posted and fake_graph.pending_faults() == 0
    assert store.get_state(TENANT, "check_failing") is not None

    tokens_only = start_bot(APNS_WATCH="ade,vpp")
    clock.advance(days=1)
    assert check(tokens_only).state is CheckState.OK and check(tokens_only).posted == ()
    clock.advance(days=6, hours=23)
    check(tokens_only)  # a week less an hour: kept
    assert store.get_snapshot(TENANT) is not None
    assert store.get_state(TENANT, "check_failing") is not None
    fake_graph.set_entity(
        expirationDateTime=odata_timestamp(clock() + timedelta(days=365)),
        certificateSerialNumber="1C2D3E4F50617283",
    )  # renewed in Intune while nobody watched
    clock.advance(hours=1)
    assert check(tokens_only).posted == ()
    assert store.get_snapshot(TENANT) is None
    assert store.get_state(TENANT, "check_failing") is None
    assert audits(store) == 1

    clock.advance(days=1)
    rewatched = check(start_bot())
    assert rewatched.posted == ()  # neither "renewed outside apns-bot" nor "recovered"
    assert rewatched.certificate is not None and rewatched.certificate.serial == "1C2D3E4F50617283"
    assert posts(fake_slack, "outside apns-bot") == []
    snapshot = store.get_snapshot(TENANT)
    assert snapshot is not None and snapshot.serial == "1C2D3E4F50617283"
    assert audits(store) == 1


# --- (b) unwatched for two days: nothing forgotten ----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_unwatched_for_two_days_keeps_its_snapshot_and_a_renewal_is_announced(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    set_tokens(fake_graph, kind, [token(kind, clock, 20, id=f"{kind}-1", name="Kept")])
    bot = start_bot()
    check(bot)
    unwatching = start_bot(APNS_WATCH=f"push,{other_than(kind)}")
    check(unwatching)
    clock.advance(days=2)
    check(unwatching)
    set_tokens(fake_graph, kind, [token(kind, clock, 385, id=f"{kind}-1", name="Kept")])
    clock.advance(hours=1)
    assert check(start_bot()).posted == (f"{kind} renewed",)  # true: renewed outside apns-bot
    assert len(posts(fake_slack, "outside apns-bot")) == 1
    assert bot.deps.store.get_state(TENANT, f"unwatched:{kind}") is None
    assert audits(bot.deps.store) == 0


def test_a_push_certificate_unwatched_for_two_days_keeps_its_snapshot(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    bot = start_bot()
    check(bot)
    unwatching = start_bot(APNS_WATCH="ade,vpp")
    check(unwatching)
    clock.advance(days=2)
    check(unwatching)
    fake_graph.set_entity(
        expirationDateTime=odata_timestamp(clock() + timedelta(days=365)),
        certificateSerialNumber="1C2D3E4F50617283",
    )
    assert "change renewed" in check(bot).posted
    assert len(posts(fake_slack, "outside apns-bot")) == 1


# --- (c) two processes on one database, with different watch lists ----------------------------


def alternate(watcher: RunningBot, other: RunningBot, clock: MovableClock) -> list[CheckResult]:
    """Both bots check, turn about, twice a day for ten simulated days."""
    results: list[CheckResult] = []
    for _ in range(20):
        results += [check(watcher), check(other)]
        clock.advance(hours=12)
    return results


@pytest.mark.parametrize("kind", KINDS)
def test_two_processes_watching_different_lists_do_not_undo_each_other(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    set_tokens(fake_graph, kind, [token(kind, clock, 200, id=f"{kind}-1", name="Kept")])
    watcher = start_bot()
    assert check(watcher).posted == ()
    store = watcher.deps.store
    snapshot = store.get_state(TENANT, f"token_snapshot:{kind}")
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind)
    other = start_bot(APNS_WATCH=f"push,{other_than(kind)}")  # say, cron's own environment

    results = alternate(watcher, other, clock)
    posted = [p for r in results for p in r.posted]
    assert posted == [f"{kind} read failed"]  # once, not with every new streak
    assert len(posts(fake_slack, "read")) == 1
    assert audits(store) == 0
    assert store.get_state(TENANT, f"token_snapshot:{kind}") == snapshot  # survived
    assert store.get_state(TENANT, f"token_failing:{kind}") is not None

    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind, denied=False)
    set_tokens(fake_graph, kind, [])
    assert f"{kind} disappeared" in check(watcher).posted  # still compared with what it saw


def test_two_processes_one_not_watching_the_push_certificate_do_not_undo_each_other(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    watcher = start_bot()
    check(watcher)
    store = watcher.deps.store
    snapshot = store.get_snapshot(TENANT)
    other = start_bot(APNS_WATCH="ade,vpp")
    fake_graph.inject("GET", CERT_PATH, *[Fault.forbidden() for _ in range(20)])

    results = alternate(watcher, other, clock)
    assert fake_graph.pending_faults() == 0  # the watcher's 20 reads all failed
    posted = [p for r in results for p in r.posted]
    assert posted == ["check failed"]
    assert audits(store) == 0
    assert store.get_snapshot(TENANT) == snapshot
    assert store.get_state(TENANT, "check_failing") is not None
    assert "recovered" in check(watcher).posted  # the one streak ends once


# --- (d) two replicas that do not watch a kind: one of them drops it ---------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_of_two_replicas_past_the_grace_period_one_drops_and_audits(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    set_tokens(fake_graph, kind, [token(kind, clock, 200, id=f"{kind}-1")])
    check(start_bot())
    first, second = (start_bot(APNS_WATCH="push") for _ in range(2))
    check(first)
    check(second)
    store = first.deps.store
    clock.advance(days=8)
    stale = all_markers(store)[TENANT]  # both read the marker before either claims it
    tenant = first.settings.default_tenant
    first.deps.watch.check(tenant, markers=stale)
    second.deps.watch.check(tenant, markers=stale)
    check(second)
    check(first)
    assert audits(store, kind) == 1
    assert audits(store, other_than(kind)) == 1  # the other token kind, unwatched too
    assert store.get_state(TENANT, f"token_snapshot:{kind}") is None
    assert store.get_state(TENANT, f"unwatched:{kind}") == {
        "since": (clock() - timedelta(days=8)).isoformat(),
        "dropped": True,
    }


def test_check_all_reads_every_tenants_markers_at_once_and_a_full_watcher_writes_nothing(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = start_bot()
    store = bot.deps.store
    calls: list[tuple[str, str]] = []
    for name in ("list_states", "get_state", "set_state", "replace_state", "delete_state"):
        monkeypatch.setattr(store, name, recording(calls, name, getattr(store, name)))
    bot.deps.watch.check_all()
    clock.advance(days=1)
    bot.deps.watch.check_all()
    touched = [call for call in calls if "unwatched:" in call[1]]
    assert touched == [("list_states", "unwatched:")] * 2  # one read per check_all, no write
    assert all_markers(store) == {}


def recording(
    calls: list[tuple[str, str]], name: str, method: Callable[..., object]
) -> Callable[..., object]:
    """``method``, recording its name and first string argument that looks like a key."""

    def call(*args: object, **kwargs: object) -> object:
        key = next((a for a in args if isinstance(a, str) and ":" in a), "")
        calls.append((name, key))
        return method(*args, **kwargs)

    return call


# --- a push renewal the bot made for a tenant that does not watch the push certificate ----------


def test_a_renewal_for_a_tenant_not_watching_push_leaves_no_snapshot(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, fake_slack: FakeSlack
) -> None:
    from tests.flows.test_renewal_flow import approval_message, renewal, request_id_of, submit

    bot = start_bot(APNS_WATCH="ade,vpp")
    cert = renewal()
    submit(bot, fake_slack, cert.pem)
    bot.slack.click(Action.APPROVE, request_id_of(approval_message(fake_slack)), LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed (" in c.params.get("text", ""))
    assert fake_graph.entity()["certificateSerialNumber"] == cert.serial  # renewed, and said
    assert bot.deps.store.get_snapshot(TENANT) is None  # but nothing kept for a later check
    assert [e.event for e in bot.deps.store.history(TENANT)].count("applied") == 1
