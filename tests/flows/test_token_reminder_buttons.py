"""A token reminder's buttons: *Start renewal* opens that token's form (``<tenant>|<kind>|<id>``)
and, for an ADE token, *Get public key* sends Intune's key in a DM."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.slack.ids import Action, View
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_tokens import ade_token, vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_watch import button, posts
from tests.flows.token_flow import ADE_ID, VPP_ID, final_modal
from tests.harness import LEAD_1, MovableClock, RunningBot


def _remind(bot: RunningBot, fake_graph: FakeGraph, clock: MovableClock, kind: str) -> None:
    soon = (clock() + timedelta(days=10)).replace(microsecond=0)
    token = ade_token(expires_at=soon) if kind == "ade" else vpp_token(expires_at=soon)
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, [token])
    bot.deps.watch.check(bot.settings.default_tenant)


def test_an_ade_reminder_starts_that_tokens_renewal_and_gets_its_public_key(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    _remind(bot, fake_graph, clock, "ade")
    [reminder] = posts(fake_slack, "Renew the Automated Device Enrollment")
    start = button(reminder, Action.START_RENEWAL)
    assert start["value"] == f"default|ade|{ADE_ID}"
    bot.slack.click(Action.START_RENEWAL, start["value"], LEAD_1)
    opened = fake_slack.wait_for("views.open")
    assert View.RENEW_TOKEN.value in json.dumps(opened.params)
    assert ADE_ID in json.dumps(final_modal(fake_slack, "Server token (.p7m)").params)

    key = button(reminder, Action.GET_ADE_KEY)
    assert key["value"] == f"default|{ADE_ID}"
    bot.slack.click(Action.GET_ADE_KEY, key["value"], LEAD_1)
    done = fake_slack.wait_for("files.completeUploadExternal")
    assert done.params["channel_id"] == fake_slack.ims[LEAD_1]


def test_a_vpp_reminder_starts_that_tokens_renewal_and_has_no_key_button(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, clock: MovableClock
) -> None:
    _remind(bot, fake_graph, clock, "vpp")
    [reminder] = posts(fake_slack, "Renew the Apps and Books")
    start = button(reminder, Action.START_RENEWAL)
    assert start["value"] == f"default|vpp|{VPP_ID}"
    assert Action.GET_ADE_KEY.value not in json.dumps(reminder.params)
    bot.slack.click(Action.START_RENEWAL, start["value"], LEAD_1)
    opened = fake_slack.wait_for("views.open")
    assert View.RENEW_TOKEN.value in json.dumps(opened.params)
    assert VPP_ID in json.dumps(final_modal(fake_slack, "Token (.vpptoken)").params)
