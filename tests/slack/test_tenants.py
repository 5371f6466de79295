"""Several tenants in Slack: names in commands, channels imply tenants, approvals stay per tenant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.requests import Status
from bot.slack.ids import Action
from tests.certgen import make_push_cert
from tests.clock import days, iso
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_tokens import vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.flows.test_renewal_flow import (
    APPLE_ID,
    CURRENT_UUID,
    approval_message,
    patches,
    request_id_of,
    submit,
)
from tests.harness import LEAD_1, LEAD_2, OUTSIDER, REQUESTER, RunningBot

CONTOSO_CHANNEL, FABRIKAM_CHANNEL = "C0CHAN0", "C0CHAN1"


@pytest.fixture
def fleet_bot(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, tmp_path: Path
) -> RunningBot:
    # the requester is a viewer of every tenant (a help desk), so may use them from anywhere
    env = fleet_file(
        tmp_path,
        fake_graph,
        approvers={"contoso": [LEAD_1], "fabrikam": [LEAD_2]},
        viewers=[REQUESTER],
    )
    return start_bot(**env)


def test_status_names_a_tenant_or_takes_it_from_the_channel(
    fleet_bot: RunningBot, fake_slack: FakeSlack
) -> None:
    fleet_bot.slack.command("status tailspin", channel="C0ELSEWHERE")
    answer = fake_slack.wait_for("response_url")
    assert "APNs certificate (tailspin)" in answer.params["text"]
    fake_slack.reset()
    fleet_bot.slack.command("status", channel=FABRIKAM_CHANNEL)
    assert "fabrikam" in fake_slack.wait_for("response_url").params["text"]


def test_outside_any_tenant_channel_the_bot_asks_which_tenant(
    fleet_bot: RunningBot, fake_slack: FakeSlack
) -> None:
    fleet_bot.slack.command("renew", channel="C0ELSEWHERE")
    text = fake_slack.wait_for("response_url").params["text"]
    assert "Which tenant?" in text and "/apns renew <tenant>" in text
    assert all(f"`{name}`" in text for name in TENANTS)  # the requester views every tenant
    assert fake_slack.calls_to("views.open") == []


@pytest.mark.parametrize("verb", ["renew", "csr", "history", "status"])
def test_which_tenant_names_only_the_tenants_the_person_may_see(
    fleet_bot: RunningBot, fake_slack: FakeSlack, verb: str
) -> None:
    """Fabrikam's approver is asked to choose among fabrikam alone; someone who may see no tenant
    is told so, as `status all` tells them, and learns no tenant's name."""
    fleet_bot.slack.command(verb, user=LEAD_2, channel="D0LEADTWO")
    text = fake_slack.wait_for("response_url").params["text"]
    assert "Which tenant?" in text and "`fabrikam`" in text, text
    assert not any(name in text for name in TENANTS if name != "fabrikam"), text
    fake_slack.reset()
    for channel in ("D0OUTSIDER", "C0ELSEWHERE"):
        response, _ = fleet_bot.slack.command(verb, user=OUTSIDER, channel=channel)
        text = response.text + fake_slack.wait_for("response_url").params["text"]
        assert "No tenant is shown to you" in text, text
        assert not any(name in text.lower() for name in TENANTS), text
        fake_slack.reset()
    assert fake_slack.calls_to("views.open") == []


def test_status_all_lists_every_tenant_most_urgent_first(
    fleet_bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    grace = iso(days(-10))  # expired ten days ago: in Apple's grace period
    fake_graph.set_entity(TENANTS["tailspin"], expirationDateTime=grace)
    fake_graph.set_permission("None", TENANTS["fabrikam"])
    fleet_bot.slack.command("status all", channel="C0ELSEWHERE")
    answer = fake_slack.wait_for("response_url")
    lines = [json.dumps(b) for b in answer.params["blocks"]]
    tenant_lines = [line for line in lines if "(`" in line]
    assert len(tenant_lines) == 5
    assert "fabrikam" in tenant_lines[0] and "check failed" in tenant_lines[0]
    assert "tailspin" in tenant_lines[1] and "expired" in tenant_lines[1]
    assert "5 tenants: 1 need attention, 1 could not be checked." in answer.params["text"]


def test_status_all_shows_a_token_when_it_is_a_tenants_most_urgent_item(
    fleet_bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    """Northwind's Apps and Books token expires in 12 days, long before its certificate (307
    days): that token is northwind's line, kind named, and it sorts before contoso's certificate
    at 20 days."""
    fake_graph.set_entity(TENANTS["contoso"], expirationDateTime=iso(days(20.5)))
    soon = vpp_token(display_name="Northwind Licences", expires_at=days(12.5))
    fake_graph.apple_tokens.set(TENANTS["northwind"], "vpp", [soon])
    fleet_bot.slack.command("status all", channel="C0ELSEWHERE")
    answer = fake_slack.wait_for("response_url")
    lines = [json.dumps(b) for b in answer.params["blocks"]]
    tenant_lines = [line for line in lines if "(`" in line]
    assert len(tenant_lines) == 5
    northwind, contoso = tenant_lines[0], tenant_lines[1]
    assert "(`northwind`)" in northwind and "(`contoso`)" in contoso
    assert "Apps and Books (VPP) token *Northwind Licences*: 12 days left" in northwind
    assert "push certificate" not in northwind
    assert "push certificate: 20 days left" in contoso
    assert "5 tenants: 2 need attention, 0 could not be checked." in answer.params["text"]


def test_a_renewal_goes_to_its_tenants_channel_and_only_its_approvers_decide(
    fleet_bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fleet_bot.slack.command("renew contoso", channel="C0ELSEWHERE")
    opened = fake_slack.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert json.loads(view["private_metadata"]) == {"tenant": "contoso", "channel": "C0ELSEWHERE"}

    cert = make_push_cert(topic_uuid=CURRENT_UUID)
    entry_metadata = json.dumps({"tenant": "contoso"})
    submit(fleet_bot, fake_slack, cert.pem, apple_id=APPLE_ID, metadata=entry_metadata)
    message = approval_message(fake_slack)
    assert message.params["channel"] == CONTOSO_CHANNEL
    request_id = request_id_of(message)

    fleet_bot.slack.click(
        Action.APPROVE, request_id, LEAD_2, channel=CONTOSO_CHANNEL
    )  # fabrikam's lead
    refusal = fake_slack.wait_for("response_url")
    assert "Only the configured approvers" in refusal.params["text"]
    fleet_bot.wait_idle()
    assert patches(fake_graph) == []

    fleet_bot.slack.click(Action.APPROVE, request_id, LEAD_1, channel=CONTOSO_CHANNEL)
    notice = fake_slack.wait_for(
        "chat.postMessage", lambda c: "renewed" in c.params.get("text", "")
    )
    assert notice.params["channel"] == CONTOSO_CHANNEL and "contoso" in notice.params["text"]
    assert len(patches(fake_graph)) == 1
    assert fake_graph.entity(TENANTS["contoso"])["certificateSerialNumber"] == cert.serial
    assert fake_graph.entity(TENANTS["fabrikam"])["certificateSerialNumber"] != cert.serial
    request = fleet_bot.deps.store.get_request(request_id)
    assert request is not None and request.tenant == "contoso" and request.status is Status.APPLIED
    assert fleet_bot.deps.store.history("fabrikam") == []
