"""A tenant's display name is any string from the tenants file: in mrkdwn (messages, fallback
texts, modals' sections) it is shown escaped, so ``<!channel>`` in it pings nobody and ``R&D <EU>``
reads as typed; plain-text fields (headers) show it as it is, since Slack does not parse them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.harness import OUTSIDER, REQUESTER, RunningBot

HOSTILE = "<!channel> R&D <EU>"
ESCAPED = "&lt;!channel&gt; R&amp;D &lt;EU&gt;"
CONTOSO_CHANNEL = "C0CHAN0"


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, tmp_path: Path) -> RunningBot:
    env = fleet_file(tmp_path, fake_graph, viewers=[REQUESTER], display_names={"contoso": HOSTILE})
    running = start_bot(**env)
    soon = running.clock() + timedelta(days=10, hours=1)  # a reminder is due
    fake_graph.set_entity(
        TENANTS["contoso"], expirationDateTime=soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return running


def mrkdwn_texts(payload: Any) -> Iterator[str]:
    """Every text Slack parses as mrkdwn: the top-level ``text``, initial comments, and every
    text object that is not ``plain_text``."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError:
            return
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in ("text", "initial_comment") and isinstance(value, str):
                if payload.get("type") != "plain_text":
                    yield value
            else:
                yield from mrkdwn_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from mrkdwn_texts(item)


def assert_inert(params: dict[str, Any]) -> None:
    texts = list(mrkdwn_texts(params))
    assert texts and not any("<!channel>" in t for t in texts), texts
    assert any(ESCAPED in t for t in texts), texts


def test_a_reminder_shows_the_display_name_escaped_and_pings_nobody(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    bot.deps.watch.check_all()
    posts = fake_slack.calls_to("chat.postMessage")
    [reminder] = [c for c in posts if c.params.get("channel") == CONTOSO_CHANNEL]
    assert "10 days" in reminder.params["text"]
    assert_inert(reminder.params)
    for call in posts:
        assert not any("<!channel>" in t for t in mrkdwn_texts(call.params)), call.params


def test_status_shows_the_display_name_escaped(bot: RunningBot, fake_slack: FakeSlack) -> None:
    bot.slack.command("status contoso", user=REQUESTER, channel="D0REQUESTER")
    answer = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    assert_inert(answer.params)
    headers = [b for b in answer.params["blocks"] if b["type"] == "header"]
    assert HOSTILE in headers[0]["text"]["text"]  # plain text: shown as typed, parsed by nobody


def test_status_all_and_a_refusal_show_the_display_name_escaped(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    bot.slack.command("status all", user=REQUESTER, channel="D0REQUESTER")
    answer = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    assert_inert(answer.params)
    fake_slack.reset()
    bot.slack.command("status contoso", user=OUTSIDER, channel="D0OUTSIDER")
    refusal = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    assert ":lock:" in refusal.params["text"]
    assert_inert(refusal.params)
