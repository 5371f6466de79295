"""`apns-bot run` as a user starts it: a subprocess, settings from the environment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import UseEnv, apns_bot, stop_process
from tests.slack_requests import SlackSender

BOT = [sys.executable, "-m", "bot"]


def clean_env(**extra: str) -> dict[str, str]:
    """Only what a shell gives a process, plus ``extra``: nothing of the test's own settings."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    return {**keep, **extra}


def test_run_without_any_settings_lists_what_is_missing_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [*BOT, "run"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "APNS_CHANNEL",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
    ):
        assert key in done.stderr


def test_run_reads_dot_env_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxp-not-a-bot-token\n")
    done = subprocess.run(
        [*BOT, "run"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "must be a bot token starting with xoxb-" in done.stderr


def test_a_wrong_slack_token_is_one_clear_line(bot_env: dict[str, str], tmp_path: Path) -> None:
    env = clean_env(**{**bot_env, "SLACK_BOT_TOKEN": "xoxb-wrong"})
    done = subprocess.run(
        [*BOT, "run", "--http", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid_auth" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def running_http_bot(
    bot_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [*BOT, "run", "--http", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,
        env=clean_env(**bot_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/slack/events)", line)
        assert match, f"no listening line; stderr: {proc.stderr.read() if proc.stderr else ''}"
        yield proc, match.group(1)
    finally:
        stop_process(proc, timeout=10)


def test_status_through_apns_bot_run_http_acknowledges_then_answers(
    running_http_bot: tuple[subprocess.Popen[str], str],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
) -> None:
    proc, url = running_http_bot
    sender = SlackSender(url, fake_slack.base)
    fake_graph.hold()
    response, _ = sender.command("status")
    assert response.status_code == 200  # acknowledged while Graph has not answered yet
    fake_graph.wait_held()
    fake_graph.release()
    answer = fake_slack.wait_for("response_url")
    blocks = str(answer.params["blocks"])
    assert "0B7002EFEA6BA6D0" in blocks and "com.apple.mgmt.External." in blocks

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


@pytest.mark.parametrize("port", ["-1", "99999", "http", "３０００"])
def test_a_bad_port_is_one_clear_line(
    use_env: UseEnv, bot_env: dict[str, str], capsys: pytest.CaptureFixture[str], port: str
) -> None:
    use_env({**bot_env, "PORT": port})
    assert apns_bot(["run", "--http"]) == 2
    err = capsys.readouterr().err
    assert f"PORT={port!r} must be a port number from 1 to 65535" in err
    assert "Traceback" not in err
