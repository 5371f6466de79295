"""The App Home tab: published on ``app_home_opened`` and again after every change."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.slack.ids import Action
from bot.slack.views.home import MAX_BLOCKS, TenantHome, home_view
from tests.clock import T0, RecordingSleep
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import LEAD_1, REQUESTER, RunningBot
from tests.slack_requests import TEAM, sign

SERIAL = "0B7002EFEA6BA6D0"
TOPIC = "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
_events = itertools.count(1)


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot]) -> RunningBot:
    """The requester is a viewer (APNS_VIEWERS): the Home tab, which has no channel to act from,
    shows the tenant to approvers and viewers only."""
    return start_bot(APNS_VIEWERS=REQUESTER)


def open_home(bot: RunningBot, user: str = REQUESTER, tab: str = "home") -> httpx.Response:
    """Send ``app_home_opened`` as Slack's Events API does (JSON, signed)."""
    n = next(_events)
    body = json.dumps(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM["id"],
            "api_app_id": "A0APNSBOT",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": f"D{user[1:]}",
                "tab": tab,
                "event_ts": f"{time.time():.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev0HOME{n:04d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM["id"], "user_id": "U0APNSBOT", "is_bot": True}],
        }
    ).encode()
    headers = {**sign(body), "Content-Type": "application/json"}
    return bot.slack.post(body, headers)


def view_of(call: Call) -> dict[str, Any]:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)


def published(fake_slack: FakeSlack, needle: str = "", user: str = REQUESTER) -> Call:
    return fake_slack.wait_for(
        "views.publish",
        lambda c: c.params.get("user_id") == user and needle in json.dumps(view_of(c)),
    )


def test_opening_the_home_tab_publishes_the_certificate_card(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()
    response = open_home(bot)
    assert response.status_code == 200  # acknowledged before the certificate is read
    fake_graph.wait_held()
    fake_graph.release()
    call = published(fake_slack, SERIAL)
    view = view_of(call)
    assert view["type"] == "home"
    text = json.dumps(view)
    for fact in (
        TOPIC,
        "mdm-admin@contoso.example",
        f"{DEFAULT_EXPIRY:%Y-%m-%d}",
        ":large_green_circle:",
    ):
        assert fact in text
    assert "*Open requests*" in text and "_None._" in text and "*Latest events*" in text
    actions = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [Action.START_RENEWAL, Action.GET_CSR]
    assert "09:00 UTC" in text


def test_a_rate_limited_publish_is_waited_out_and_the_tab_still_appears(
    bot: RunningBot, fake_slack: FakeSlack, sleeps: RecordingSleep
) -> None:
    fake_slack.rate_limit("views.publish", retry_after=1)  # Slack: 429 + Retry-After
    assert open_home(bot).status_code == 200
    landed = fake_slack.wait_for("views.publish", lambda c: bool((c.answer or {}).get("ok")))
    assert view_of(landed)["type"] == "home" and SERIAL in json.dumps(view_of(landed))
    refused = fake_slack.calls_to("views.publish")[0]
    assert (refused.answer or {}).get("error") == "ratelimited"
    [waited] = sleeps.delays  # the Retry-After Slack asked for (1 s), plus jitter
    assert 1.0 <= waited < 2.0


def test_the_messages_tab_publishes_nothing(bot: RunningBot, fake_slack: FakeSlack) -> None:
    assert open_home(bot, tab="messages").status_code == 200
    bot.wait_idle()
    assert fake_slack.calls_to("views.publish") == []


def test_a_check_republishes_to_everyone_who_opened_it(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.deps.watch.check(bot.settings.default_tenant)  # the watch's first look
    open_home(bot, REQUESTER)
    open_home(bot, LEAD_1)
    published(fake_slack, SERIAL, REQUESTER)
    published(fake_slack, SERIAL, LEAD_1)
    bot.wait_idle()
    expiry = bot.clock() + timedelta(days=5)
    fake_graph.set_entity(
        expirationDateTime=expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        certificateSerialNumber="1C2D3E4F50617283",
    )
    graph_reads = len(fake_graph.requests_to("applePushNotificationCertificate", "GET"))
    bot.deps.watch.check(bot.settings.default_tenant)
    for user in (REQUESTER, LEAD_1):
        text = json.dumps(view_of(published(fake_slack, "1C2D3E4F50617283", user)))
        assert ":red_circle:" in text and "*external change*" in text
        assert "*reminder posted*" in text
    bot.wait_idle()
    # the tab is rendered from what the check read: no second Graph read
    assert len(fake_graph.requests_to("applePushNotificationCertificate", "GET")) == graph_reads + 1


def test_a_renewal_request_shows_up_as_an_open_request(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    from tests.flows.test_renewal_flow import approval_message, renewal, request_id_of, submit

    open_home(bot)
    published(fake_slack, SERIAL)
    submit(bot, fake_slack, renewal().pem)
    request_id = request_id_of(approval_message(fake_slack))
    text = json.dumps(view_of(published(fake_slack, request_id)))
    assert (
        "waiting for approval" in text and "approvals 0 of 1" in text and f"<@{REQUESTER}>" in text
    )
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)

    def settled(call: Call) -> bool:
        # a refresh racing the upload may read the requests before and the events after it;
        # the tab must end up showing it applied and no longer open
        text = json.dumps(view_of(call))
        return "*applied*" in text and request_id not in text.split("*Latest events*")[0]

    fake_slack.wait_for("views.publish", settled)


def test_when_graph_fails_the_tab_shows_the_last_certificate_seen(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.deps.watch.check(bot.settings.default_tenant)
    fake_graph.set_permission("None")
    open_home(bot)
    text = json.dumps(view_of(published(fake_slack, "could not be read")))
    assert SERIAL in text and "last certificate seen" in text
    bot.deps.watch.check(bot.settings.default_tenant)
    text = json.dumps(view_of(published(fake_slack, "has been failing since")))
    assert "DeviceManagementServiceConfig" in text


def test_a_token_kind_that_fails_shows_its_last_tokens_seen(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.deps.watch.check(bot.settings.default_tenant)  # the snapshot: one VPP token
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, "vpp")
    open_home(bot)
    text = json.dumps(view_of(published(fake_slack, "last seen")))
    assert "Apps and Books (VPP) token* \\u2014 could not be read" in text
    assert "the tokens below are as last seen" in text
    assert "Contoso Apps and Books" in text and SERIAL in text


def test_start_renewal_in_the_home_tab_opens_the_renew_modal(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    response = bot.slack.click(Action.START_RENEWAL, "default", REQUESTER, container="view")
    assert response.status_code == 200
    opened = fake_slack.wait_for("views.open", lambda c: c.answer is not None, timeout=3.0)
    assert opened.answer is not None and opened.answer["ok"]  # the trigger was still fresh
    assert view_of(opened)["callback_id"] == "apns.renew"


def test_a_button_naming_an_unknown_tenant_opens_nothing(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    bot.slack.click(Action.START_RENEWAL, "gone", REQUESTER)
    answer = fake_slack.wait_for("response_url")
    assert "no longer configured" in answer.params["text"]
    assert answer.params["replace_original"] is False
    assert fake_slack.calls_to("views.open") == []


def test_many_tenants_stay_within_slacks_block_limit() -> None:
    now = T0
    homes = [
        TenantHome(
            tenant=TenantSettings(
                name=f"t{n}", tenant_id="contoso.example", client_id="x", channel="C1"
            ),
            certificate=TenantCertificate("a@b.example", TOPIC, SERIAL, now + timedelta(days=n)),
        )
        for n in range(40)
    ]
    view = home_view(homes, now, required=1, schedule="09:00 UTC").to_dict()
    assert len(view["blocks"]) == MAX_BLOCKS
    assert "More tenants than fit here" in json.dumps(view["blocks"][-2])
