"""Helpers for the ADE/VPP token renewal flows: submit the token form as Slack would, find the
approval message, count uploads at the fake Graph."""

from __future__ import annotations

import json
from typing import Any

from bot.slack.ids import Action, Block, Input, View
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_tokens import VPP_PATH, ade_token, vpp_token
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import CHANNEL, REQUESTER, RunningBot

ADE_ID = str(ade_token()["id"])
VPP_ID = str(vpp_token()["id"])
ADE_APPLE_ID = str(ade_token()["appleIdentifier"])
IDS = {"ade": ADE_ID, "vpp": VPP_ID}


def submit_token(
    bot: RunningBot,
    fake_slack: FakeSlack,
    kind: str,
    content: bytes,
    *,
    apple_id: str | None = ADE_APPLE_ID,
    user: str = REQUESTER,
    reason: str | None = "CHG-77",
    token_id: str | None = None,
    name: str = "token-file",
    channel: str | None = CHANNEL,
) -> dict[str, Any]:
    """Submit the token form with ``content`` as its file, opened from ``channel`` (the tenant's
    by default; None: the Home tab); return the acknowledgement body."""
    entry = fake_slack.host_file("F0TOKEN001", content, name)
    values: dict[str, Any] = {
        Block.TOKEN_FILE: {Input.FILE: {"type": "file_input", "files": [entry]}},
        Block.REASON: {Input.VALUE: {"type": "plain_text_input", "value": reason}},
    }
    if kind == "ade":
        values[Block.APPLE_ID] = {Input.VALUE: {"type": "email_text_input", "value": apple_id}}
    meta = {"tenant": "default", "kind": kind, "token": token_id or IDS[kind]}
    metadata = json.dumps({**meta, "channel": channel} if channel else meta)  # opened there
    view_id = "V0TOKEN01"
    fake_slack.view_changed(view_id)
    response = bot.slack.submit(
        View.RENEW_TOKEN, values, user=user, private_metadata=metadata, view_id=view_id
    )
    assert response.status_code == 200
    ack: dict[str, Any] = response.json() if response.content else {}
    if ack.get("response_action") == "update":
        fake_slack.view_changed(view_id)
    return ack


def final_modal(fake_slack: FakeSlack, needle: str) -> Call:
    return fake_slack.wait_for("views.update", lambda c: needle in json.dumps(c.params))


def approval_message(fake_slack: FakeSlack) -> Call:
    return fake_slack.wait_for(
        "chat.postMessage", lambda c: Action.APPROVE.value in json.dumps(c.params.get("blocks"))
    )


def request_id_of(message: Call) -> str:
    raw = message.params["blocks"]
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == Action.APPROVE:
                return str(element["value"])
    raise AssertionError("no Approve button")


def pending_token_request(
    bot: RunningBot, fake_slack: FakeSlack, kind: str, content: bytes, **kw: Any
) -> str:
    submit_token(bot, fake_slack, kind, content, **kw)
    final_modal(fake_slack, "sent for approval")
    return request_id_of(approval_message(fake_slack))


def uploads(fake_graph: FakeGraph, kind: str) -> list[Any]:
    if kind == "ade":
        return fake_graph.requests_to("/uploadDepToken", "POST")
    return fake_graph.requests_to(f"{VPP_PATH}/{VPP_ID}", "PATCH")


def syncs(fake_graph: FakeGraph) -> list[Any]:
    return fake_graph.requests_to(f"{VPP_PATH}/{VPP_ID}/syncLicenses", "POST")


def renewed_notice(fake_slack: FakeSlack, timeout: float = 10.0) -> Call:
    return fake_slack.wait_for(
        "chat.postMessage",
        lambda c: ":white_check_mark:" in c.params.get("text", "") and "token" in c.params["text"],
        timeout=timeout,
    )
