"""Mentions and links typed into any free-text field reach Slack inert, in every message and view.

The reason, the rejection reason, the Apple ID, the uploaded file's name and an unknown command
word each carry ``<!channel>``, ``<!here>``, a user mention, a disguised link and ``&``; afterwards
nothing the bot sent to Slack (messages, updates, ephemeral answers, modals, the Home tab) holds
any of them as mrkdwn would read it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.slack.ids import Action, Block, Input, View
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import (
    APPLE_ID,
    approval_message,
    final_modal,
    renewal,
    request_id_of,
)
from tests.harness import CHANNEL, LEAD_1, REQUESTER, RunningBot
from tests.slack.test_home import open_home

INJECTION = (
    "<!channel> <!here> <@U0INJECTED> <https://evil.example/login|Open the Intune console> & co"
)
LIVE = ("<!channel>", "<!here>", "<@U0INJECTED>", "<https://evil.example")


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot]) -> RunningBot:
    return start_bot(APNS_VIEWERS=REQUESTER)  # so the requester's Home tab shows the request


def sent_to_slack(fake_slack: FakeSlack) -> str:
    """Everything the bot sent to Slack so far, as one searchable text (JSON-decoded twice)."""
    parts: list[str] = []
    for call in fake_slack.calls:
        for value in call.params.values():
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def submit_renewal(
    bot: RunningBot, fake_slack: FakeSlack, *, apple_id: str, reason: str, file_name: str
) -> dict[str, Any]:
    entry = fake_slack.host_file("F0INJECT01", renewal().pem, file_name)
    values: dict[str, Any] = {
        Block.APPLE_ID: {Input.VALUE: {"type": "email_text_input", "value": apple_id}},
        Block.CERTIFICATE: {Input.FILE: {"type": "file_input", "files": [entry]}},
        Block.REASON: {Input.VALUE: {"type": "plain_text_input", "value": reason}},
    }
    fake_slack.view_changed("V0MODAL01")
    response = bot.slack.submit(
        View.RENEW, values, private_metadata=json.dumps({"tenant": "default", "channel": CHANNEL})
    )
    assert response.status_code == 200
    fake_slack.view_changed("V0MODAL01")
    return response.json() if response.content else {}


def test_injection_in_every_free_text_field_reaches_slack_inert(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    # the reason and the file name, on a renewal that goes to the approvers
    ack = submit_renewal(
        bot, fake_slack, apple_id=APPLE_ID, reason=INJECTION, file_name=f"{INJECTION}.pem"
    )
    assert "evil.example" in json.dumps(ack)  # the "Checking <file name>" view, inert
    final_modal(fake_slack, "sent for approval")
    message = approval_message(fake_slack)
    assert "&lt;!channel&gt;" in json.dumps(message.params)  # shown as typed, not as a ping
    request_id = request_id_of(message)
    open_home(bot, REQUESTER)
    fake_slack.wait_for("views.publish", lambda c: request_id in json.dumps(c.params))

    # the rejection reason, shown on the approval message
    bot.slack.click(Action.REJECT, request_id, LEAD_1)
    opened = fake_slack.wait_for("views.open", lambda c: View.REJECT_REASON in json.dumps(c.params))
    view = opened.params["view"]
    metadata = (json.loads(view) if isinstance(view, str) else view)["private_metadata"]
    reason = {Block.REJECT_REASON: {Input.VALUE: {"type": "plain_text_input", "value": INJECTION}}}
    bot.slack.submit(View.REJECT_REASON, reason, user=LEAD_1, private_metadata=metadata)
    fake_slack.wait_for("chat.update", lambda c: "Rejected" in json.dumps(c.params))

    # an Apple ID with mentions in it (it passes the form's e-mail shape), refused by the checks
    submit_renewal(
        bot,
        fake_slack,
        apple_id="<!here>&<https://evil.example/login|x>@evil.example",
        reason="ok",
        file_name="cert.pem",
    )
    final_modal(fake_slack, "cannot be used")

    # an unknown command word, echoed back (cut short)
    response, _ = bot.slack.command(f"{INJECTION.replace(' ', '')}{'x' * 100_000}")
    assert len(response.content) < 5_000

    bot.wait_idle()
    sent = sent_to_slack(fake_slack) + response.text
    for live in LIVE:
        assert live not in sent, live
    assert "&lt;!channel&gt;" in sent and "&amp; co" in sent
