"""A form's submission asks again who may see its tenant, as opening the form did.

The renew forms carry their tenant (and the channel they were opened from) in
``private_metadata``; someone whose access was removed after opening one, or who sends a
submission for a tenant they never could see, is refused with the sentence the opening gives,
and nothing is downloaded, stored or posted.
"""

from __future__ import annotations

import json
from typing import Any

from bot.slack.ids import Block, Input, View
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import renewal, submit
from tests.flows.token_flow import submit_token
from tests.harness import CHANNEL, LEAD_1, OUTSIDER, RunningBot
from tests.tokengen import vpp_token_file

ELSEWHERE = "C0RANDOM"


def assert_refused(ack: dict[str, Any]) -> None:
    assert ack["response_action"] == "update", ack
    shown = json.dumps(ack["view"])
    assert ":lock:" in shown and "APNS_VIEWERS" in shown and f"<#{CHANNEL}>" in shown, shown
    assert '"submit"' not in shown  # nothing left to submit


def assert_nothing_done(bot: RunningBot, fake_slack: FakeSlack) -> None:
    assert bot.deps.store.list_requests("default") == []
    for method in ("files.download", "chat.postMessage", "views.update", "views.open"):
        assert fake_slack.calls_to(method) == [], method


def test_a_certificate_form_from_someone_who_may_not_see_the_tenant_is_refused(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    for channel in (None, ELSEWHERE):  # from the Home tab or a DM, from another channel
        meta = {"tenant": "default"} | ({"channel": channel} if channel else {})
        ack = submit(bot, fake_slack, renewal().pem, user=OUTSIDER, metadata=json.dumps(meta))
        assert_refused(ack)
    assert_nothing_done(bot, fake_slack)


def test_a_token_form_from_someone_who_may_not_see_the_tenant_is_refused(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    for channel in (None, ELSEWHERE):
        ack = submit_token(bot, fake_slack, "vpp", vpp_token_file(), user=OUTSIDER, channel=channel)
        assert_refused(ack)
    assert_nothing_done(bot, fake_slack)


def test_the_chooser_from_someone_who_may_not_see_the_tenant_shows_no_form(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    for value in ("push", "vpp|anything"):
        choice = {
            Block.RENEW_WHAT: {
                Input.VALUE: {"type": "radio_buttons", "selected_option": {"value": value}}
            }
        }
        for user, channel in ((OUTSIDER, None), (OUTSIDER, ELSEWHERE)):
            meta = {"tenant": "default"} | ({"channel": channel} if channel else {})
            fake_slack.view_changed("V0CHOOSE9")
            response = bot.slack.submit(
                View.RENEW_CHOOSE,
                choice,
                user=user,
                private_metadata=json.dumps(meta),
                view_id="V0CHOOSE9",
            )
            assert_refused(response.json())
    assert_nothing_done(bot, fake_slack)


def test_those_who_may_see_the_tenant_still_submit(bot: RunningBot, fake_slack: FakeSlack) -> None:
    """The approver from a DM (no channel in the form) and the channel's member are let through."""
    meta = json.dumps({"tenant": "default"})
    ack = submit(bot, fake_slack, renewal().pem, user=LEAD_1, metadata=meta)
    assert "Checking" in json.dumps(ack["view"])
    ack = submit_token(bot, fake_slack, "vpp", vpp_token_file())  # the requester, in CHANNEL
    assert "Checking" in json.dumps(ack["view"])
