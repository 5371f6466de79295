"""Signed requests as Slack sends them to ``POST /slack/events`` (shapes from ../shared/payloads)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

SIGNING_SECRET = "8f742231b10e8888abcd99yez67291"
TEAM = {"id": "T0EXAMPLE", "domain": "example"}
_counter = itertools.count(1)


def trigger_id(n: int) -> str:
    """Shaped like Slack's; carries its issue time so the fake can expire it after 3 s."""
    return f"{n}.{int(time.time() * 1000)}.9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"


def sign(body: bytes, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass
class SlackSender:
    """Posts signed slash commands, clicks and submissions to a running bot."""

    bot_url: str  # http://127.0.0.1:<port>/slack/events
    slack_base: str  # the fake Slack's base URL (response_url targets)
    secret: str = SIGNING_SECRET

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(
            self.bot_url, content=body, headers=headers or sign(body, self.secret), timeout=10
        )

    def command(
        self, text: str, user: str = "U0REQUESTER", channel: str = "C0APNSOPS", **fields: str
    ) -> tuple[httpx.Response, str]:
        """Send ``/apns <text>`` (``fields`` override the form's, e.g. ``channel_name``);
        returns the response and the response_url it carried."""
        n = next(_counter)
        response_url = f"{self.slack_base}/response/cmd{n}"
        form = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "enterprise_id": "",
            "enterprise_name": "",
            "channel_id": channel,
            "channel_name": "apns-ops",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/apns",
            "text": text,
            "api_app_id": "A0APNSBOT",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id(n),
            **fields,
        }
        return self.post(urlencode(form).encode()), response_url

    def interactive(self, payload: dict[str, Any]) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}).encode())

    def click(
        self,
        action_id: str,
        value: str,
        user: str,
        channel: str = "C0APNSOPS",
        message_ts: str = "1795700100.000200",
        container: str = "message",
    ) -> httpx.Response:
        n = next(_counter)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": TEAM["id"],
            },
            "api_app_id": "A0APNSBOT",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": trigger_id(n),
            "team": TEAM,
            "enterprise": None,
            "is_enterprise_install": False,
            "response_url": f"{self.slack_base}/response/act{n}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "decision",
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
            "state": {"values": {}},
        }
        if container == "message":
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel, "name": "apns-ops"}
            payload["message"] = {"type": "message", "ts": message_ts, "text": "", "blocks": []}
        else:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {
                "id": "VHOME",
                "type": "home",
                "callback_id": "",
                "private_metadata": "",
                "state": {"values": {}},
            }
        return self.interactive(payload)

    def submit(
        self,
        callback_id: str,
        values: dict[str, Any],
        user: str = "U0REQUESTER",
        private_metadata: str = "",
        view_id: str = "V0MODAL01",
    ) -> httpx.Response:
        n = next(_counter)
        payload = {
            "type": "view_submission",
            "team": TEAM,
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": TEAM["id"],
            },
            "api_app_id": "A0APNSBOT",
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "trigger_id": trigger_id(n),
            "view": {
                "id": view_id,
                "team_id": TEAM["id"],
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "blocks": [],
                "state": {"values": values},
                "hash": "1795700001.a1B2c3D4",
                "root_view_id": view_id,
                "app_id": "A0APNSBOT",
                "bot_id": "B0APNSBOT",
            },
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.interactive(payload)
