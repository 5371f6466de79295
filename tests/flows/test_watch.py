"""The expiry watch against the fake Graph and fake Slack, with a real SQLite file.

Time is injected (``MovableClock``); the fake Graph's expiry is set relative to it. "A restart" is
a second bot built from the same settings and database, as after a redeploy; it also stands in for
a second replica.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.reminders import CheckState
from bot.core.requests import Event
from bot.runtime.daily_check import DailyCheck
from bot.slack.ids import Action
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import CHANNEL, LEAD_1, LEADS_GROUP, REQUESTER, MovableClock, RunningBot

SERIAL = "0B7002EFEA6BA6D0"
TOPIC = "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
APPLE_ID = "mdm-admin@contoso.example"


def odata(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expire_in(fake_graph: FakeGraph, clock: MovableClock, days: float, **props: Any) -> datetime:
    """Make the tenant's certificate expire ``days`` after the clock's now; returns the expiry."""
    expiry = (clock() + timedelta(days=days)).replace(microsecond=0)
    fake_graph.set_entity(expirationDateTime=odata(expiry), **props)
    return expiry


def posts(fake_slack: FakeSlack, needle: str = "") -> list[Call]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if needle in json.dumps(c.params) and c.params.get("channel") == CHANNEL
    ]


def blocks_of(call: Call) -> list[dict[str, Any]]:
    blocks = call.params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks or [])


def button(call: Call, action: Action) -> dict[str, Any]:
    for block in blocks_of(call):
        for element in block.get("elements", []):
            if element.get("action_id") == action:
                return dict(element)
    raise AssertionError(f"no {action} button")


def check(bot: RunningBot) -> Any:
    return bot.deps.watch.check(bot.settings.default_tenant)


def test_each_threshold_is_posted_once_across_a_restart(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph, clock
) -> None:
    bot = start_bot()
    expiry = expire_in(fake_graph, clock, 29.5)
    first = check(bot)
    assert first.state is CheckState.ATTENTION
    assert first.posted == ("reminder 30",)
    assert check(bot).posted == ()

    restarted = start_bot()  # same database, as after a redeploy
    assert check(restarted).posted == ()
    [reminder] = posts(fake_slack, "expires in")
    text = json.dumps(blocks_of(reminder))
    for fact in ("29 days", APPLE_ID, TOPIC, SERIAL, f"{expiry:%Y-%m-%d %H:%M} UTC"):
        assert fact in text
    assert "identity.apple.com" in text and "*Renew*" in text and "/apns renew" in text
    assert f"<@{LEAD_1}>" not in text  # no mentions before 7 days
    assert button(reminder, Action.START_RENEWAL)["value"] == "default"
    assert button(reminder, Action.GET_CSR)["value"] == "default"

    clock.advance(days=16)  # 13.5 days left: the 14-day threshold, posted by one of the two
    assert [check(b).posted for b in (restarted, bot)] == [("reminder 14",), ()]
    events = [e for e in bot.deps.store.history("default") if e.event == Event.REMINDER_POSTED]
    assert [e.detail["threshold"] for e in events] == ["14", "30"]


def test_two_replicas_checking_at_once_post_once(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph, clock
) -> None:
    bots = [start_bot(), start_bot()]
    expire_in(fake_graph, clock, 6.5)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda b=b: results.append(check(b))) for b in bots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.posted for r in results) == [(), ("reminder 7",)]
    [reminder] = posts(fake_slack, "Renew the APNs certificate now")
    text = json.dumps(blocks_of(reminder))
    assert f"<@{LEAD_1}>" in text and f"<!subteam^{LEADS_GROUP}>" in text


def test_the_tone_rises_to_daily_alarms_while_expired(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    # Daily checks at noon; the certificate expires on the fourth morning, so the check that day
    # is the first of the grace period (day 0), whatever hour T0 is.
    clock.set(datetime.combine(clock().date(), time(12), tzinfo=UTC))
    expire_in(fake_graph, clock, 2 + 21 / 24)
    thresholds = []
    for _ in range(36):
        result = check(bot)
        thresholds += [p.removeprefix("reminder ") for p in result.posted]
        clock.advance(days=1)
    expected = ["3", "1", *(f"expired-{n}" for n in range(30)), "lapsed"]
    assert thresholds == expected
    expired = posts(fake_slack, "EXPIRED")
    assert len(expired) == 30
    assert "30 days* of Apple's 30-day grace period" in json.dumps(blocks_of(expired[0]))
    assert "1 day* of Apple" in json.dumps(blocks_of(expired[-1]))
    [lapsed] = posts(fake_slack, "grace period over")
    assert "re-enroll" in json.dumps(blocks_of(lapsed))
    assert all(f"<@{LEAD_1}>" in json.dumps(blocks_of(p)) for p in [*expired, lapsed])


def test_a_renewal_outside_the_bot_is_reported_and_restarts_the_count(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 6.5)
    assert check(bot).posted == ("reminder 7",)
    renewed = expire_in(fake_graph, clock, 365, certificateSerialNumber="1C2D3E4F50617283")

    result = check(bot)
    assert result.state is CheckState.OK
    assert result.posted == ("change renewed",)
    [notice] = posts(fake_slack, "renewed outside apns-bot")
    text = json.dumps(blocks_of(notice))
    assert f"{renewed:%Y-%m-%d %H:%M} UTC" in text and "1C2D3E4F50617283" in text
    assert "topic is unchanged" in text
    assert check(bot).posted == ()
    [event] = [e for e in bot.deps.store.history("default") if e.event == Event.EXTERNAL_CHANGE]
    assert event.detail["kind"] == "renewed" and event.detail["serial"] == "1C2D3E4F50617283"

    clock.advance(days=306)  # 59 days before the new expiry: the count starts again at 60
    # (the fake tenant's ADE and VPP tokens, never renewed, have expired by now: their own notices)
    assert [p for p in check(bot).posted if not p.startswith(("ade ", "vpp "))] == ["reminder 60"]


def test_a_changed_topic_is_posted_as_critical(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    check(bot)  # the first look only takes note of the certificate
    assert posts(fake_slack) == []
    new_topic = "com.apple.mgmt.External.99999999-0000-4000-8000-000000000000"
    expire_in(fake_graph, clock, 365, topicIdentifier=new_topic, certificateSerialNumber="77")
    assert check(bot).posted == ("change topic_changed",)
    [notice] = posts(fake_slack, "topic changed")
    text = json.dumps(blocks_of(notice))
    assert TOPIC in text and new_topic in text
    assert "stop syncing" in text and "re-enroll" in text
    assert f"<@{LEAD_1}>" in text and f"<!subteam^{LEADS_GROUP}>" in text
    assert button(notice, Action.START_RENEWAL)["value"] == "default"


def test_a_removed_certificate_is_posted_as_critical(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    check(bot)
    fake_graph.clear_certificate()
    result = check(bot)
    assert result.state is CheckState.ATTENTION
    assert result.posted == ("change removed",)
    [notice] = posts(fake_slack, "removed from Intune")
    assert TOPIC in json.dumps(blocks_of(notice))


def test_a_failing_check_is_reported_once_and_its_recovery_once(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    clock: MovableClock,
) -> None:
    bot, replica = start_bot(), start_bot()
    check(bot)
    fake_graph.set_permission("None")
    results = [check(b) for b in (bot, replica, bot)]
    assert [r.state for r in results] == [CheckState.FAILED] * 3
    assert [r.posted for r in results] == [("check failed",), (), ()]
    [failed] = posts(fake_slack, "failed")
    assert "DeviceManagementServiceConfig" in failed.params["text"]

    fake_graph.set_permission("ReadWrite")
    assert [check(b).posted for b in (replica, bot)] == [("recovered",), ()]
    [recovered] = posts(fake_slack, "works again (it failed from")
    assert recovered.params["text"].startswith(":white_check_mark:")
    events = [e.event for e in bot.deps.store.history("default")]
    assert events.count(Event.CHECK_FAILED) == 1 and events.count(Event.CHECK_RECOVERED) == 1

    clock.advance(days=1)
    fake_graph.set_permission("None")  # a new streak (from the next day's check) is a new notice
    assert check(bot).posted == ("check failed",)


def test_a_reminder_slack_refused_is_posted_at_the_next_check(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 20)
    fake_slack.fail("chat.postMessage", "not_in_channel")
    assert check(bot).posted == ()
    assert check(bot).posted == ("reminder 30",)
    assert check(bot).posted == ()
    assert len(posts(fake_slack, "expires in")) == 2  # the refused attempt and the one that landed


def test_a_refused_reminder_is_retried_within_minutes_not_at_the_next_daily_check(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 20)
    assert bot.deps.watch.retry_refused() == []  # nothing refused: not even a Graph read
    assert fake_graph.graph_requests() == []

    fake_slack.fail("chat.postMessage", "not_in_channel", times=2)
    assert check(bot).posted == ()
    clock.advance(minutes=15)
    [still_refused] = bot.deps.watch.retry_refused()  # Slack still says no
    assert still_refused.posted == ()
    clock.advance(minutes=15)
    [retried] = bot.deps.watch.retry_refused()
    assert retried.posted == ("reminder 30",)
    assert (
        len(posts(fake_slack, "expires in")) == 3
    )  # two refused attempts, then the one that landed

    reads, batches = len(fake_graph.graph_calls()), len(fake_graph.batches())
    assert bot.deps.watch.retry_refused() == []  # posted: nothing left to retry
    assert check(bot).posted == ()
    # only the check read Graph: the certificate, the ADE and the VPP tokens once each, batched
    assert len(fake_graph.graph_calls()) == reads + 3
    assert len(fake_graph.batches()) == batches + 1


def test_a_retry_mark_for_a_notice_no_longer_due_is_dropped_by_the_next_good_check(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 20)
    fake_slack.fail("chat.postMessage", "not_in_channel")
    assert check(bot).posted == ()  # "30 days" refused: a retry mark
    clock.advance(days=7)  # 13 days left: the 14-day reminder is due instead
    assert check(bot).posted == ("reminder 14",)
    assert bot.deps.store.list_states("retry:", "default") == []
    reads = len(fake_graph.graph_requests())
    assert bot.deps.watch.retry_refused() == []  # nothing left to retry, no Graph read
    assert len(fake_graph.graph_requests()) == reads


def test_a_notice_refused_all_day_is_left_to_the_daily_check(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 20)
    fake_slack.fail("chat.postMessage", "channel_not_found", times=100)
    assert check(bot).posted == ()
    for _ in range(2):  # each retry rewrites the mark, but the day counts from the first refusal
        clock.advance(hours=8)
        assert [r.posted for r in bot.deps.watch.retry_refused()] == [()]
    clock.advance(hours=8)  # a day after the first refusal
    reads = len(fake_graph.graph_requests())
    assert bot.deps.watch.retry_refused() == []
    assert len(fake_graph.graph_requests()) == reads
    fake_slack.failures.clear()
    assert check(bot).posted == ("reminder 30",)  # the daily check still posts it


def test_the_bots_own_renewal_is_not_reported_as_an_outside_change(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    from tests.flows.test_renewal_flow import approval_message, renewal, request_id_of, submit

    check(bot)
    before = bot.deps.store.get_snapshot("default")
    assert before is not None
    cert = renewal()
    submit(bot, fake_slack, cert.pem)
    bot.slack.click(Action.APPROVE, request_id_of(approval_message(fake_slack)), LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed (" in c.params.get("text", ""))
    assert fake_graph.entity()["certificateSerialNumber"] == cert.serial
    assert check(bot).posted == ()
    # as if the bot had stopped between recording the upload and moving the snapshot on
    bot.deps.store.set_snapshot("default", before, bot.clock())
    assert check(bot).posted == ()
    assert posts(fake_slack, "outside apns-bot") == []
    snapshot = bot.deps.store.get_snapshot("default")
    assert snapshot is not None and snapshot.serial == cert.serial


def test_start_renewal_on_a_reminder_opens_the_renew_modal(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 10)
    check(bot)
    [reminder] = posts(fake_slack, "expires in")
    value = button(reminder, Action.START_RENEWAL)["value"]
    response = bot.slack.click(
        Action.START_RENEWAL, value, REQUESTER, message_ts=reminder.params.get("ts", "1.2")
    )
    assert response.status_code == 200
    opened = fake_slack.wait_for("views.open", lambda c: c.answer is not None, timeout=3.0)
    view = (
        json.loads(opened.params["view"])
        if isinstance(opened.params["view"], str)
        else opened.params["view"]
    )
    assert view["callback_id"] == "apns.renew"
    assert opened.answer is not None and opened.answer["ok"]  # the trigger was still fresh
    assert fake_slack.calls_to("response_url") == []  # the reminder itself is left alone


def test_apns_bot_run_checks_at_start_up(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    from bot.cli.run import start_jobs

    expire_in(fake_graph, clock, 2.5)
    tickers = start_jobs(bot.deps, bot.settings)
    try:
        fake_slack.wait_for("chat.postMessage", lambda c: "2 days left" in c.params.get("text", ""))
        assert {t.name for t in tickers} == {
            "expire-requests",
            "reconcile",
            "retry-notices",
            "daily-check",
        }
    finally:
        for ticker in tickers:
            ticker.stop()


def test_the_daily_check_runs_once_a_day_at_the_configured_local_time(clock: MovableClock) -> None:
    zone = ZoneInfo("Europe/Berlin")
    runs: list[datetime] = []
    daily = DailyCheck(lambda: runs.append(clock()), time(9), zone, clock)
    first = daily.next_run
    assert first > clock() and first.astimezone(zone).time() == time(9)
    assert daily.tick() is False
    clock.set(first + timedelta(seconds=1))
    assert daily.tick() is True and daily.tick() is False
    assert daily.next_run.astimezone(zone).time() == time(9)
    assert timedelta(hours=23) <= daily.next_run - first <= timedelta(hours=25)
    clock.advance(days=3)  # a host asleep for days runs one catch-up check, not three
    assert [daily.tick(), daily.tick()] == [True, False]
    assert len(runs) == 2


def test_a_reminder_lost_to_a_crash_while_posting_is_posted_at_the_next_check(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    expire_in(fake_graph, clock, 20)
    notifier = bot.deps.watch.notifier
    real = notifier.post_reminder

    def crash(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("the process died here")

    notifier.post_reminder = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        bot.deps.watch.check(bot.settings.default_tenant)
    notifier.post_reminder = real  # type: ignore[method-assign]
    assert check(bot).posted == ()  # within the lease the post may still be in flight elsewhere
    clock.advance(minutes=11)
    assert check(bot).posted == ("reminder 30",)
    assert check(bot).posted == ()
