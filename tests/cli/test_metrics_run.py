"""``apns-bot run`` serving ``GET /metrics``: beside Slack in HTTP mode, on ``APNS_METRICS_PORT``
in Socket Mode (or to move it off the Slack port). The bot runs as a user starts it, a separate
process; its metrics are fetched over a real socket and read with prometheus_client's parser."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.test_run import BOT, clean_env
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.fakes.slack_server import APP_TOKEN, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.harness import UseEnv, apns_bot, stop_process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PUSH_EXPIRY = ("apns_bot_expiry_timestamp_seconds", "default", "push", "push certificate")


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def push_expiry(found: Samples) -> float | None:
    name, tenant, kind, item = PUSH_EXPIRY
    return found.get((name, frozenset({"tenant": tenant, "kind": kind, "name": item}.items())))


def scrape_after_check(
    url: str, timeout: float = 20.0, headers: dict[str, str] | None = None
) -> tuple[str, Samples]:
    """GET ``url`` until the start-up check has been recorded (it runs in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=10, headers=headers)
        assert response.status_code == 200
        found = parse(response.text)
        if push_expiry(found) is not None or time.monotonic() >= deadline:
            return response.text, found
        time.sleep(0.02)


Started = Callable[..., tuple[subprocess.Popen[str], dict[str, str]]]


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[Started]:
    """``start_run(env, *args)``: ``apns-bot run ARGS`` with ``env``; waits for its start-up
    lines and returns the process and the URLs it announced (``slack``, ``metrics``)."""
    started: list[subprocess.Popen[str]] = []

    def start(
        env: dict[str, str], *args: str, expect: tuple[str, ...]
    ) -> tuple[subprocess.Popen[str], dict[str, str]]:
        proc = subprocess.Popen(
            [*BOT, "run", *args],
            cwd=tmp_path,
            env=clean_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        while set(expect) - set(urls):
            line = proc.stdout.readline()
            assert line, f"bot ended early: {proc.stderr.read() if proc.stderr else ''}"
            if match := re.search(r"listening on (http://\S+)/slack/events", line):
                urls["slack"] = match.group(1)
            if match := re.search(r"metrics on (http://\S+)", line):
                urls["metrics"] = match.group(1)
        return proc, urls

    yield start
    for proc in started:
        stop_process(proc)


def test_http_mode_serves_metrics_beside_slack(
    start_run: Started, bot_env: dict[str, str], fake_graph: FakeGraph
) -> None:
    proc, urls = start_run(
        bot_env, "--http", "--host", "127.0.0.1", "--port", "0", expect=("slack",)
    )
    _, found = scrape_after_check(f"{urls['slack']}/metrics")
    assert push_expiry(found) == DEFAULT_EXPIRY.timestamp()
    success = ("apns_bot_check_success", frozenset({"tenant": "default", "kind": "push"}.items()))
    assert found[success] == 1.0
    refused = httpx.post(f"{urls['slack']}/metrics", content=b"", timeout=10)
    assert refused.status_code == 405
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert proc.stderr is not None
    assert OPEN_WARNING in proc.stderr.read()  # open to whoever reaches Slack's endpoint: said


OPEN_WARNING = "GET /metrics answers anyone who can reach this port"


def test_socket_mode_serves_metrics_on_its_own_port(
    start_run: Started,
    bot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    socket_mode: FakeSocketMode,
) -> None:
    env = {k: v for k, v in bot_env.items() if k != "SLACK_SIGNING_SECRET"}
    env.update(SLACK_APP_TOKEN=APP_TOKEN, APNS_METRICS_PORT="0")
    proc, urls = start_run(env, expect=("metrics",))
    assert urls["metrics"].startswith("http://127.0.0.1:")  # loopback unless told otherwise
    socket_mode.wait_connected()
    _, found = scrape_after_check(urls["metrics"])
    assert push_expiry(found) == DEFAULT_EXPIRY.timestamp()
    root = urls["metrics"].removesuffix("/metrics")
    assert httpx.post(urls["metrics"], content=b"", timeout=10).status_code == 405
    assert httpx.put(urls["metrics"], content=b"x", timeout=10).status_code == 413  # never read
    assert httpx.get(f"{root}/slack/events", timeout=10).status_code == 404
    assert httpx.get(f"{root}/", timeout=10).status_code == 404
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_a_metrics_port_takes_metrics_off_the_slack_port_and_asks_for_the_token(
    start_run: Started, bot_env: dict[str, str], fake_graph: FakeGraph
) -> None:
    token = "0123456789abcdef0123456789abcdef"
    env = {**bot_env, "APNS_METRICS_PORT": "0", "APNS_METRICS_TOKEN": token}
    proc, urls = start_run(
        env, "--http", "--host", "127.0.0.1", "--port", "0", expect=("slack", "metrics")
    )
    assert httpx.get(f"{urls['slack']}/metrics", timeout=10).status_code == 404
    assert httpx.get(urls["metrics"], timeout=10).status_code == 401  # the token is asked for
    _, found = scrape_after_check(urls["metrics"], headers={"Authorization": f"Bearer {token}"})
    assert push_expiry(found) == DEFAULT_EXPIRY.timestamp()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert proc.stderr is not None and OPEN_WARNING not in proc.stderr.read()


def test_the_metrics_port_cannot_be_the_http_port(
    use_env: UseEnv, bot_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({**bot_env, "APNS_METRICS_PORT": "9464", "PORT": "9464"})
    assert apns_bot(["run", "--http"]) == 2
    assert "APNS_METRICS_PORT=9464 is also the HTTP port" in capsys.readouterr().err


def test_a_metrics_port_in_use_is_one_clear_line(
    use_env: UseEnv, bot_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        use_env({**bot_env, "APNS_METRICS_PORT": str(port)})
        assert apns_bot(["run", "--http", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert f"Cannot serve metrics on 127.0.0.1:{port}" in err and "Traceback" not in err
