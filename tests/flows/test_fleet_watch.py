"""The daily check across several tenants: right channels, failures isolated, fleet Home tab."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.slack.home_tab import FLEET_REFRESH_SECONDS
from tests.clock import RecordingSleep, days, iso
from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_tokens import vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.harness import REQUESTER, RunningBot
from tests.slack.test_home import open_home, published

CHANNELS = {name: f"C0CHAN{i}" for i, name in enumerate(TENANTS)}


@pytest.fixture
def fleet(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, tmp_path: Path
) -> RunningBot:
    viewers = [REQUESTER, "U0VIEWERA", "U0VIEWERB"]  # the Home tab shows them every tenant
    bot = start_bot(**fleet_file(tmp_path, fake_graph, viewers=viewers))
    soon = bot.clock() + timedelta(days=10, hours=1)
    fake_graph.set_entity(
        TENANTS["contoso"], expirationDateTime=soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    fake_graph.set_permission("None", TENANTS["fabrikam"])
    fake_graph.inject("GET", shapes.CERT_PATH, Fault.throttle(1))
    grace = iso(days(-10))  # expired ten days ago: in Apple's grace period
    fake_graph.set_entity(TENANTS["tailspin"], expirationDateTime=grace)
    fake_graph.clear_certificate(TENANTS["woodgrove"])
    return bot


def posts_in(fake_slack: FakeSlack, channel: str) -> list[str]:
    return [
        c.params.get("text", "")
        for c in fake_slack.calls_to("chat.postMessage")
        if c.params.get("channel") == channel
    ]


def test_each_tenant_is_told_in_its_own_channel_and_a_failing_one_blocks_nobody(
    fleet: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    results = {r.tenant: r for r in fleet.deps.watch.check_all()}
    assert set(results) == set(TENANTS)
    assert results["fabrikam"].error is not None and results["northwind"].error is None
    assert any("10 days" in t for t in posts_in(fake_slack, CHANNELS["contoso"]))
    assert any("expired" in t.lower() for t in posts_in(fake_slack, CHANNELS["tailspin"]))
    failed = posts_in(fake_slack, CHANNELS["fabrikam"])
    assert len(failed) == 1 and "DeviceManagementServiceConfig" in failed[0]
    assert posts_in(fake_slack, CHANNELS["northwind"]) == []  # healthy after the throttle
    for name, channel in CHANNELS.items():
        for text in posts_in(fake_slack, channel):
            others = [n for n in TENANTS if n != name and n in text]
            assert others == [], f"{name}'s channel got a message about {others}"


def test_each_tenant_is_read_with_one_graph_request(
    fleet: RunningBot, fake_graph: FakeGraph, sleeps: RecordingSleep
) -> None:
    fleet.deps.watch.check_all()
    assert len(fake_graph.batches()) == len(TENANTS)  # its certificate, ADE and VPP tokens
    alone = [
        r for r in fake_graph.graph_requests() if not r.batched and r not in fake_graph.batches()
    ]
    # only the throttled certificate read goes again on its own, after its Retry-After
    assert [(r.method, r.path) for r in alone] == [("GET", "/beta" + shapes.CERT_PATH)]
    assert sleeps.delays == [1.0]


def test_the_home_tab_shows_the_fleet_from_the_last_check(
    fleet: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fleet.deps.watch.check_all()
    gets_before = len(fake_graph.requests_to(shapes.CERT_PATH, "GET"))
    open_home(fleet)
    view = json.dumps(published(fake_slack, "all tenants").params["view"])
    assert len(fake_graph.requests_to(shapes.CERT_PATH, "GET")) == gets_before  # no Graph reads
    order = [view.index(f"(`{name}`)") for name in ("fabrikam", "tailspin", "contoso", "northwind")]
    assert order == sorted(order)


def test_tenants_are_checked_concurrently(fleet: RunningBot, fake_graph: FakeGraph) -> None:
    """Every tenant's batch is under way at once, through the real client over real sockets: the
    fake holds each answer back, and a sequential loop would never have them all held."""
    fake_graph.hold()
    results: list[Any] = []
    check = threading.Thread(target=lambda: results.extend(fleet.deps.watch.check_all()))
    check.start()
    try:
        fake_graph.wait_held(len(TENANTS))
        held = [(r.method, r.path) for r in fake_graph.graph_requests()]
    finally:
        fake_graph.release()
        check.join(timeout=30)
    assert held == [("POST", "/beta/$batch")] * len(TENANTS)  # one batch per tenant, all at once
    assert not check.is_alive() and len(results) == len(TENANTS)


def test_a_fleet_check_refreshes_each_open_tab_once_not_once_per_tenant(
    fleet: RunningBot, fake_slack: FakeSlack
) -> None:
    timers: list[tuple[float, Callable[[], None]]] = []
    fleet.deps.home.start_timer = lambda delay, action: timers.append((delay, action))
    for user in ("U0VIEWERA", "U0VIEWERB"):
        open_home(fleet, user=user)
        published(fake_slack, "all tenants", user=user)
    before = len(fake_slack.calls_to("views.publish"))
    fleet.deps.watch.check_all()
    fleet.wait_idle()
    assert len(fake_slack.calls_to("views.publish")) == before  # nothing until the timer fires
    [(delay, refresh)] = timers  # five tenants checked, one debounced refresh queued
    assert delay == FLEET_REFRESH_SECONDS
    refresh()  # the timer fires: one publish per open tab, on the bot's executor
    fresh = fake_slack.wait_for_count("views.publish", before + 2)[before:]
    fleet.wait_idle()
    assert len(fake_slack.calls_to("views.publish")) == before + 2
    assert {call.params["user_id"] for call in fresh} == {"U0VIEWERA", "U0VIEWERB"}


def test_the_fleet_home_tab_shows_a_token_when_it_is_the_most_urgent_item(
    fleet: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    """northwind's certificate is healthy, its VPP token expires in 3 days: the row names it."""
    lapsing = vpp_token(display_name="Northwind Apps", expires_at=fleet.clock() + timedelta(days=3))
    fake_graph.apple_tokens.set(TENANTS["northwind"], "vpp", [lapsing])
    fake_graph.apple_tokens.deny(TENANTS["tailspin"], "ade")
    fleet.deps.watch.check_all()
    open_home(fleet)
    view = json.dumps(published(fake_slack, "all tenants").params["view"])
    northwind = next(line for line in view.split("\\n") if "(`northwind`)" in line)
    assert "Apps and Books (VPP) token *Northwind Apps*: 3 days left" in northwind
    tailspin = next(line for line in view.split("\\n") if "(`tailspin`)" in line)
    assert "push certificate" in tailspin and "ADE not readable" in tailspin


def test_the_fleet_home_tab_names_the_worst_token_beside_a_failed_certificate(
    fleet: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    """northwind's certificate cannot be read, its VPP token was: the row says both, as
    ``status --all`` does."""
    lapsing = vpp_token(display_name="Northwind Apps", expires_at=fleet.clock() + timedelta(days=3))
    fake_graph.apple_tokens.set(TENANTS["northwind"], "vpp", [lapsing])
    fake_graph.inject("GET", shapes.CERT_PATH, *[Fault.forbidden()] * 8)
    fleet.deps.watch.check_all()
    open_home(fleet)
    blocks = published(fake_slack, "all tenants").params["view"]["blocks"]
    texts = [block["text"]["text"] for block in blocks if "text" in block]
    northwind = next(text for text in texts if "(`northwind`) — check failed" in text)
    assert "worst token read: Apps and Books (VPP) token *Northwind Apps*, 3 days left" in northwind
