"""The token watch tells the bot's own token renewals from changes made outside apns-bot: a
renewal that is an applied token request's upload is never announced as "renewed outside
apns-bot"; one whose new expiry Intune showed only later is posted once when the watch reads it."""

from __future__ import annotations

import json

from bot.core.requests import Status
from bot.slack.ids import Action
from bot.usecases.watch import CheckResult
from tests.clock import days, iso
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import VPP_ID, pending_token_request, renewed_notice
from tests.harness import LEAD_1, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file


def check(bot: RunningBot) -> CheckResult:
    return bot.deps.watch.check(bot.settings.default_tenant)


def said(fake_slack: FakeSlack, needle: str) -> int:
    return sum(needle in json.dumps(c.params) for c in fake_slack.calls_to("chat.postMessage"))


def test_the_bots_own_vpp_renewal_is_not_announced_as_outside(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    check(bot)  # the snapshot before the renewal
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack)
    bot.wait_idle()
    result = check(bot)
    assert not any("renewed" in p for p in result.posted)
    assert said(fake_slack, "outside apns-bot") == 0


def test_the_bots_own_ade_renewal_is_not_announced_as_outside(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    check(bot)
    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "ade", content)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack)
    bot.wait_idle()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLIED
    result = check(bot)
    assert not any("renewed" in p for p in result.posted)
    assert said(fake_slack, "outside apns-bot") == 0


def test_a_vpp_expiry_intune_shows_late_is_posted_once_as_the_bots_renewal(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    check(bot)
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.token_writes.lag_reads = 50
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert "after its next sync" in notice.params["text"]
    bot.wait_idle()
    assert check(bot).posted == ()  # Intune still shows the old expiry
    fake_graph.apple_tokens.update(  # Intune's sync with Apple caught up
        FAKE_TENANT_ID, "vpp", VPP_ID, expirationDateTime=iso(days(365))
    )
    assert check(bot).posted == ("vpp renewed",)
    assert said(fake_slack, f"renewed by apns-bot (request `{request_id}`)") == 1
    assert said(fake_slack, f"{days(365):%Y-%m-%d}") >= 1
    assert said(fake_slack, "outside apns-bot") == 0
    assert check(bot).posted == ()  # once
