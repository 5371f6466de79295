"""The requests the benchmarks send: Slack's payloads, built by the tests' ``SlackSender``.

``tests.slack_requests.SlackSender`` builds faithful slash-command, click and submission bodies and
posts them at once; ``Recorder`` keeps the bodies instead, so the load generator can sign and send
them on its own schedule (signed at send time: Slack's 5-minute window and ``sign()`` as in tests).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.core.requests import ID_ENTROPY_BYTES, new_request_id
from bot.slack.ids import Action, Block, Input, View
from tests.harness import CHANNEL, LEAD_1, LEAD_2, REQUESTER
from tests.slack_requests import SIGNING_SECRET, SlackSender, sign

APPLE_ID = "mdm-admin@contoso.example"  # the fake tenant's Apple ID
# The fake Slack's response_url target; the bare app never calls it, and the bot is told the real
# fake's base through ``Recorder(slack_base=...)``.
NO_SLACK = "http://127.0.0.1:9"
KINDS = ("status", "renew", "submit", "click")


@dataclass
class Recorder(SlackSender):
    """A ``SlackSender`` that records each body instead of posting it."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    kind: str = ""

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        self.bodies.append((self.kind, body))
        return httpx.Response(200)

    def add(self, kind: str) -> None:
        self.kind = kind


def signed(body: bytes) -> dict[str, str]:
    return sign(body, SIGNING_SECRET)


def help_command() -> tuple[bytes, dict[str, str]]:
    """A signed ``/apns help`` (answered inline by the bot, acknowledged by the bare app)."""
    recorder = Recorder("", NO_SLACK)
    recorder.command("help")
    body = recorder.bodies[0][1]
    return body, signed(body)


def renew_values(file_entry: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` of a filled-in renew modal (as in tests/test_renewal_flow.py)."""
    return {
        Block.APPLE_ID: {Input.VALUE: {"type": "email_text_input", "value": APPLE_ID}},
        Block.CERTIFICATE: {Input.FILE: {"type": "file_input", "files": [file_entry]}},
        Block.REASON: {Input.VALUE: {"type": "plain_text_input", "value": "CHG-BENCH"}},
    }


def submission(recorder: Recorder, file_entry: dict[str, Any]) -> None:
    recorder.submit(
        View.RENEW,
        renew_values(file_entry),
        user=REQUESTER,
        private_metadata=json.dumps({"tenant": "default"}),
    )


def mix(count: int, slack_base: str, file_entry: dict[str, Any]) -> list[tuple[str, bytes]]:
    """``count`` bodies, round-robin over /apns status, /apns renew, renew-modal submissions and
    button clicks (Approve and Reject, alternating, on well-formed request ids the bot does not
    hold: the full listener and background path runs, and no click applies anything)."""
    recorder = Recorder("", slack_base)
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        recorder.add(kind)
        if kind == "status":
            recorder.command("status", channel=CHANNEL)
        elif kind == "renew":
            recorder.command("renew", channel=CHANNEL)
        elif kind == "submit":
            submission(recorder, file_entry)
        else:
            request_id = new_request_id(datetime.now(UTC), secrets.token_bytes(ID_ENTROPY_BYTES))
            if (n // len(KINDS)) % 2 == 0:
                recorder.click(Action.APPROVE, request_id, LEAD_1)
            else:
                recorder.click(Action.REJECT, request_id, LEAD_2)
    return recorder.bodies


_TRIGGER = re.compile(rb"(\d+)\.\d{13}\.([0-9a-f]{32})")


def fresh_trigger(body: bytes) -> bytes:
    """``body`` with its ``trigger_id`` issued now: Slack issues it as it sends the request, and
    ``tests.slack_requests`` stamps it when the body is built (the fake Slack expires it 3 s on)."""
    now = str(int(time.time() * 1000)).encode()
    return _TRIGGER.sub(lambda m: m.group(1) + b"." + now + b"." + m.group(2), body, count=1)


def trigger_id(body: bytes) -> str | None:
    """The ``trigger_id`` a request carries (a slash command's form field, or the payload's)."""
    form = parse_qs(body.decode())
    if "payload" in form:
        value = json.loads(form["payload"][0]).get("trigger_id")
        return str(value) if value else None
    return form.get("trigger_id", [None])[0]


def approve_click(slack_base: str, request_id: str) -> bytes:
    recorder = Recorder("", slack_base)
    recorder.click(Action.APPROVE, request_id, LEAD_1)
    return recorder.bodies[0][1]


def renew_submission(slack_base: str, file_entry: dict[str, Any]) -> bytes:
    recorder = Recorder("", slack_base)
    submission(recorder, file_entry)
    return recorder.bodies[0][1]
