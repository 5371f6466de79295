"""HTTP mode's front door, through the real server: bounded, verified before parsed, never a 500."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from slack_bolt.request import BoltRequest

from bot.runtime.request_gate import MAX_BODY_BYTES
from bot.slack.app import build_app
from tests.fakes.slack_server import FakeSlack
from tests.harness import RunningBot
from tests.slack_requests import SIGNING_SECRET, sign

MB = 1024 * 1024


class CountingHandler(logging.Handler):
    """Every line the bot's logging would write at the default level, kept to count and search."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("httpx", "httpcore")):  # the test's own client
            self.lines.append(self.format(record))

    @property
    def size(self) -> int:
        return sum(len(line.encode()) + 1 for line in self.lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def log_lines() -> Iterator[CountingHandler]:
    handler = CountingHandler()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the default LOG_LEVEL
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def rss_bytes() -> int:
    """This process's resident set (the server runs in it), from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def raw_post(url: str, headers: dict[str, str], body_size: int, *, chunked: bool = False) -> str:
    """Stream ``body_size`` bytes of junk at the server over a raw socket, as an attacker would;
    return the status line it answered with ('' if it closed without one)."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {body_size}")
    chunk = b"A" * (256 * 1024)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.settimeout(5)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        try:
            while sent < body_size:
                piece = chunk[: body_size - sent]
                if chunked:
                    sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    sock.sendall(piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while the body was still coming: as intended
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def signed(body: bytes, **extra: str) -> dict[str, str]:
    return {**sign(body, SIGNING_SECRET), **extra}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_unsigned_post_is_refused_without_being_held_or_logged(
    bot: RunningBot, log_lines: CountingHandler, chunked: bool
) -> None:
    before_rss, before_log = rss_bytes(), log_lines.size
    status = raw_post(
        bot.url,
        {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Signature": "v0=00"},
        50 * MB,
        chunked=chunked,
    )
    grown_rss, grown_log = rss_bytes() - before_rss, log_lines.size - before_log
    assert status.split(" ")[1:2] in (["413"], ["401"]), status
    assert grown_rss < 64 * MB, f"RSS grew {grown_rss / MB:.1f} MB"
    assert grown_log < 64 * 1024, f"log grew {grown_log} bytes"
    assert "AAAA" not in log_lines.text
    # and the server still answers the next request
    assert httpx.get(bot.url.replace("/slack/events", "/healthz"), timeout=5).status_code == 200


def test_a_body_just_over_the_limit_is_refused_even_when_signed(bot: RunningBot) -> None:
    body = b"payload=" + b"x" * MAX_BODY_BYTES
    assert bot.slack.post(body, signed(body)).status_code == 413


def _submission(values: dict[str, object]) -> dict[str, object]:
    """A renew-form submission whose ``view.state.values`` is ``values``."""
    view = {"id": "V1", "type": "modal", "callback_id": "apns.renew", "state": {"values": values}}
    return {"type": "view_submission", "user": {"id": "U1"}, "view": view}


MALFORMED: list[tuple[str, bytes]] = [
    ("not UTF-8", b"command=/apns&text=\xff\xfe\xc3(&user_id=U0REQUESTER"),
    ("payload not JSON", b"payload={not-json"),
    ("JSON 50,000 deep", b"payload=" + b"[" * 50_000 + b"]" * 50_000),
    ("JSON body 50,000 deep", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("payload a JSON list", b"payload=" + json.dumps([1, 2]).encode()),
    ("payload without user", b"payload=" + json.dumps({"type": "block_actions"}).encode()),
    (
        "user not an object",
        b"payload=" + json.dumps({"type": "view_submission", "user": 7, "view": {}}).encode(),
    ),
    (
        "view not an object",
        b"payload="
        + json.dumps({"type": "view_submission", "user": {"id": "U1"}, "view": "v"}).encode(),
    ),
    (
        "actions not objects",
        b"payload="
        + json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": ["x"]}).encode(),
    ),
    ("command without a user", b"command=%2Fapns&text=status&channel_id=C0APNSOPS"),
    (
        "no action in block_actions",
        b"payload="
        + json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": []}).encode(),
    ),
    (
        "view without a type",
        b"payload="
        + json.dumps(
            {"type": "view_submission", "user": {"id": "U1"}, "view": {"id": "V1"}}
        ).encode(),
    ),
    (
        "state values not objects",
        b"payload=" + json.dumps(_submission({"apple_id": {"value": "x"}})).encode(),
    ),
    (
        "file entries not objects",
        b"payload="
        + json.dumps(_submission({"certificate": {"file": {"files": ["F1"]}}})).encode(),
    ),
]


@pytest.mark.parametrize(("what", "body"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_refused_cleanly_signed_or_not(
    bot: RunningBot, log_lines: CountingHandler, what: str, body: bytes
) -> None:
    unsigned = bot.slack.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    forged = bot.slack.post(body, signed(body, **{"X-Slack-Signature": "v0=" + "0" * 64}))
    real = bot.slack.post(body, signed(body))
    assert (unsigned.status_code, forged.status_code, real.status_code) == (401, 401, 400)
    assert "Traceback" not in log_lines.text
    assert len(log_lines.lines) <= 3 and all(len(line) < 300 for line in log_lines.lines)


def test_slacks_unsigned_ssl_check_is_answered_200_and_nothing_else_is(
    bot: RunningBot, log_lines: CountingHandler
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert bot.slack.post(b"ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO", form).status_code == 200
    assert log_lines.lines == []
    for other in (b"ssl_check=1&command=/apns&user_id=U1", b"ssl_check=0", b"token=x"):
        assert bot.slack.post(other, form).status_code == 401


@pytest.mark.parametrize(
    "body",
    [b" [1, 2]", b' {"type": "block_actions", "user": {"id": "U1"}, "actions": []}'],
    ids=["list", "spaced object"],
)
def test_a_json_body_is_checked_as_bolt_will_parse_it(
    bot: RunningBot, log_lines: CountingHandler, body: bytes
) -> None:
    """A charset parameter on the content type does not let a body past the shape check that
    Bolt then reads as JSON (Bolt drops the parameter; so does the gate)."""
    headers = {**signed(body), "Content-Type": "application/json; charset=utf-8"}
    assert bot.slack.post(body, headers).status_code == 400
    assert "Traceback" not in log_lines.text


@pytest.mark.parametrize(
    "timestamp", ["yesterday", "", "1e9", "-5", "99999999999999999999", "0x5f5e100"]
)
def test_a_timestamp_that_is_no_number_is_401_without_reading_the_body(
    bot: RunningBot, log_lines: CountingHandler, timestamp: str
) -> None:
    body = b"command=%2Fapns&text=status&user_id=U0REQUESTER"
    headers = signed(body)
    headers["X-Slack-Request-Timestamp"] = timestamp
    assert bot.slack.post(body, headers).status_code == 401
    assert "Traceback" not in log_lines.text


def test_a_stale_signature_is_401_and_logged_in_one_short_line_without_the_body(
    bot: RunningBot, log_lines: CountingHandler, fake_slack: FakeSlack
) -> None:
    body = urlencode(
        {
            "command": "/apns",
            "text": "status SECRET-MARKER",
            "user_id": "U0REQUESTER",
            "response_url": f"{fake_slack.base}/response/replayed",
            "trigger_id": "1.2.SECRET-TRIGGER",
        }
    ).encode()
    old = int(time.time()) - 600  # Slack's signing time: real time is the point here
    response = bot.slack.post(body, sign(body, SIGNING_SECRET, timestamp=old))
    assert response.status_code == 401
    assert len(log_lines.lines) == 1 and "timestamp" in log_lines.lines[0]
    for secret in ("SECRET-MARKER", "SECRET-TRIGGER", "/response/replayed", "v0="):
        assert secret not in log_lines.text


def test_bolts_own_loggers_never_write_a_body_at_the_default_level(
    bot: RunningBot, log_lines: CountingHandler
) -> None:
    """A signed click no listener handles: Bolt warns "Unhandled request" with the payload."""
    response = bot.slack.click("apns.nobody_handles_SECRET-MARKER", "SECRET-VALUE", "U0LEADONE")
    assert response.status_code in (200, 404)
    assert any("Unhandled request" in line for line in log_lines.lines)
    assert "SECRET" not in log_lines.text


def test_other_paths_and_methods_get_no_further_than_the_door(bot: RunningBot) -> None:
    base = bot.url.removesuffix("/slack/events")
    assert httpx.get(bot.url, timeout=5).status_code == 405
    assert httpx.post(base + "/other", content=b"x", timeout=5).status_code == 404


def test_the_log_line_for_a_refusal_names_the_reason_not_the_request(
    bot: RunningBot, log_lines: CountingHandler
) -> None:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    bot.slack.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    (line,) = log_lines.lines
    assert re.search(r"refused a request from 127\.0\.0\.1: missing or malformed signature", line)
    assert "block_actions" not in line


def test_bolts_own_signature_check_behind_the_gate_logs_no_body(
    bot: RunningBot, log_lines: CountingHandler
) -> None:
    """Defence in depth: were a request to reach Bolt unverified, its failure line (which Bolt
    writes with the signature, timestamp and whole body) is cut to its opening words."""
    app = build_app(bot.settings, bot.deps, http=True)
    body = "command=%2Fapns&text=SECRET-MARKER&response_url=https%3A%2F%2Fhooks.example%2FSECRET"
    headers = {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=00"}
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 401
    assert any("Invalid request signature" in line for line in log_lines.lines)
    assert "SECRET" not in log_lines.text and "v0=00" not in log_lines.text


def test_at_log_level_debug_the_library_lines_are_whole(
    bot: RunningBot, log_lines: CountingHandler
) -> None:
    """The operator's explicit choice: LOG_LEVEL=DEBUG shows what Bolt says in full."""
    logging.getLogger().setLevel(logging.DEBUG)
    bot.slack.click("apns.nobody_handles_MARKER", "v", "U0LEADONE")
    assert any("Unhandled request" in line and "MARKER" in line for line in log_lines.lines)
