"""``apns-bot check``: one line per tenant and an exit code for cron and monitoring."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.clock import T0, iso, real_now
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import apns_bot

ROOT = Path(__file__).resolve().parents[2]
SETTING_PREFIXES = ("AZURE_", "GRAPH_", "APNS_", "SLACK_", "SSL_CERT_", "REQUESTS_CA_")


def use_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]) -> None:
    """``apns_bot()`` reads the process environment: make it exactly ``env`` (and no ./.env)."""
    for key in [k for k in os.environ if k.startswith(SETTING_PREFIXES)]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


def expire_in(fake_graph: FakeGraph, days: float, now: datetime = T0) -> datetime:
    """Make the certificate expire ``days`` after ``now`` (the suite's anchor unless given)."""
    expiry = now + timedelta(days=days)
    fake_graph.set_entity(expirationDateTime=iso(expiry))
    return expiry


@pytest.fixture
def graph_only(graph_env, monkeypatch, tmp_path) -> dict[str, str]:
    use_env(monkeypatch, tmp_path, graph_env)
    return graph_env


@pytest.fixture
def with_slack(bot_env, monkeypatch, tmp_path) -> dict[str, str]:
    use_env(monkeypatch, tmp_path, bot_env)
    return bot_env


def test_more_days_than_the_largest_threshold_exits_0(graph_only, fake_graph, capsys) -> None:
    expire_in(fake_graph, 61.5)
    assert apns_bot(["check"]) == 0
    # the certificate's line, then one per token, worst first (the fake's VPP token expires first)
    line, vpp, ade = capsys.readouterr().out.splitlines()
    assert vpp.startswith('OK default vpp "Contoso Apps and Books": ')
    assert ade.startswith('OK default ade "Contoso ABM": ')
    assert line.startswith("OK default: 61 days left, expires ")
    assert "Apple ID mdm-admin@contoso.example" in line
    assert "topic com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20" in line
    assert not Path(graph_only["APNS_DB_PATH"]).exists()  # read-only: no database touched


@pytest.mark.parametrize(
    ("days", "start"),
    [
        (60.5, "RENEW default: 60 days left"),
        (5.5, "CRITICAL default: 5 days left"),
        (-2.5, "EXPIRED default: expired 2 days ago, 28 of Apple's 30 grace days left"),
        (-45, "LAPSED default: expired 45 days ago"),
    ],
)
def test_inside_the_window_or_expired_exits_1(
    graph_only, fake_graph, capsys, days: float, start: str
) -> None:
    expire_in(fake_graph, days)
    assert apns_bot(["check"]) == 1
    assert capsys.readouterr().out.startswith(start)


def test_no_certificate_exits_1(graph_only, fake_graph, capsys) -> None:
    fake_graph.clear_certificate()
    assert apns_bot(["check"]) == 1
    assert capsys.readouterr().out.startswith("MISSING default: no Apple push certificate")


def test_a_failed_check_exits_2_with_the_reason(graph_only, fake_graph, capsys) -> None:
    fake_graph.set_permission("None")
    assert apns_bot(["check"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("FAILED default: Microsoft Graph refused")
    assert "DeviceManagementServiceConfig.Read.All" in out and "Traceback" not in out


def test_missing_settings_exit_2(graph_only, monkeypatch, capsys) -> None:
    monkeypatch.delenv("AZURE_TENANT_ID")
    assert apns_bot(["check"]) == 2
    assert "AZURE_TENANT_ID is missing" in capsys.readouterr().err


def test_with_slack_settings_it_posts_once_and_still_exits_by_state(
    with_slack, fake_graph: FakeGraph, fake_slack: FakeSlack, capsys
) -> None:
    expire_in(fake_graph, 20.5)
    assert apns_bot(["check"]) == 1
    assert capsys.readouterr().out.splitlines()[0].endswith("; posted: reminder 30")
    assert apns_bot(["check"]) == 1  # nothing new to post: the exit code still says renew
    assert "posted" not in capsys.readouterr().out
    assert apns_bot(["check", "--no-post"]) == 1
    [reminder] = fake_slack.calls_to("chat.postMessage")
    assert "20 days left" in reminder.params["text"]


def test_with_slack_settings_a_failing_check_is_posted_once_and_exits_2(
    with_slack, fake_graph: FakeGraph, fake_slack: FakeSlack, capsys
) -> None:
    fake_graph.set_permission("None")
    assert [apns_bot(["check"]), apns_bot(["check"])] == [2, 2]
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("; posted: check failed") and "posted" not in out[1]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_check_as_a_subprocess_posts_and_exits_1(
    bot_env: dict[str, str], fake_graph: FakeGraph, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """End to end, as cron runs it: ``python -m bot check`` with settings in the environment.

    The check runs as its own process with the real clock: the expiry is an offset from it.
    """
    expire_in(fake_graph, 6.5, now=real_now())
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env={**keep, **bot_env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    line, *tokens = done.stdout.splitlines()
    assert len(tokens) == 2 and all(t.startswith("OK default ") for t in tokens)
    assert line.startswith("CRITICAL default: 6 days left") and line.endswith("posted: reminder 7")
    [posted] = fake_slack.calls_to("chat.postMessage")
    assert posted.params["channel"] == bot_env["APNS_CHANNEL"]
    assert "Traceback" not in done.stderr
