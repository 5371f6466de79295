"""A host that accepts connections and never answers (a dead proxy, a hung server): every command
gives up after ``APNS_NETWORK_TIMEOUT``, says *timed out* and names the host, and exits as it does
for any other failure. The timeout is set small here; the outcomes are what is asserted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from io import StringIO

import pytest

from bot.adapters.graph.client import CERT_PATH
from bot.cli.doctor_report import Result, Waiting
from tests.cli.test_run import clean_env
from tests.fakes.dead_host import DeadHost
from tests.fakes.graph_faults import Fault
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import UseEnv, apns_bot

QUICK = "0.5"  # APNS_NETWORK_TIMEOUT for these tests, in seconds


@pytest.fixture
def dead() -> Iterator[DeadHost]:
    with DeadHost() as host:
        yield host


def all_dead(bot_env: dict[str, str], dead: DeadHost) -> dict[str, str]:
    """Slack, Entra ID and Graph all behind the silent host."""
    return {
        **bot_env,
        "SLACK_API_URL": dead.url + "/api/",
        "AZURE_AUTHORITY_HOST": dead.netloc,
        "GRAPH_URL": dead.url + "/beta",
        "APNS_NETWORK_TIMEOUT": QUICK,
    }


def status_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"^(PASS|WARN|FAIL|SKIP)  ", line)]


def test_doctor_reports_each_silent_host_as_timed_out_with_a_fix(
    bot_env: dict[str, str], dead: DeadHost, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env(all_dead(bot_env, dead))
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    slack = next(line for line in out.splitlines() if line.startswith("FAIL  slack "))
    entra = next(line for line in out.splitlines() if line.startswith("FAIL  entra sign-in"))
    for line in (slack, entra):
        assert "timed out" in line and dead.netloc.split(":")[0] in line
    assert "SKIP  slack scopes" in out and "SKIP  graph read" in out


def test_doctor_counts_match_its_lines_and_every_fail_has_a_fix(
    bot_env: dict[str, str], dead: DeadHost, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env(all_dead(bot_env, dead))
    apns_bot(["doctor"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    shown = status_lines(out)
    summary = lines[-1]
    words = {"PASS": "passed", "WARN": "warned", "FAIL": "failed", "SKIP": "skipped"}
    for status, word in words.items():
        count = sum(1 for line in shown if line.startswith(status))
        if count:
            assert f"{count} {word}" in summary
    assert sum(int(n) for n in re.findall(r"(\d+) \w+", summary)) == len(shown)
    for i, line in enumerate(lines):
        if line.startswith("FAIL"):
            assert "fix:" in lines[i + 1], line


def silent_graph(fake_graph: FakeGraph) -> None:
    """Graph answers the read only after four timeouts (Entra ID keeps answering: the token's
    scope names Graph's host, so Graph cannot move to the dead host alone)."""
    fake_graph.inject("GET", CERT_PATH, Fault.slow(4 * float(QUICK)))


def test_doctor_checks_graph_when_only_graph_is_silent(
    bot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    use_env: UseEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    silent_graph(fake_graph)
    use_env({**bot_env, "APNS_NETWORK_TIMEOUT": QUICK})
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "PASS  entra sign-in" in out
    graph = next(line for line in out.splitlines() if line.startswith("FAIL  graph read"))
    assert "timed out" in graph and "127.0.0.1" in graph


def test_the_status_line_names_what_doctor_is_waiting_for() -> None:
    class SlowFuture:
        """Not done for two ticks, then done."""

        def __init__(self) -> None:
            self.ticks = 0

        def result(self, timeout: float) -> list[Result]:
            self.ticks += 1
            if self.ticks <= 2:
                raise FutureTimeout
            return [Result("slack", "PASS", "ok")]

    out = StringIO()
    waiting = Waiting(out, enabled=True)
    assert waiting.until_done(SlowFuture(), "slack.com") == [Result("slack", "PASS", "ok")]  # type: ignore[arg-type]
    assert "waiting for slack.com (1 s)" in out.getvalue()
    assert "waiting for slack.com (2 s)" in out.getvalue()
    waiting.clear()
    assert out.getvalue().endswith("\r\033[K")

    quiet = StringIO()
    Waiting(quiet, enabled=False).until_done(SlowFuture(), "slack.com")  # type: ignore[arg-type]
    assert quiet.getvalue() == ""


def test_status_gives_up_on_a_silent_graph(
    graph_env: dict[str, str],
    fake_graph: FakeGraph,
    use_env: UseEnv,
    capsys: pytest.CaptureFixture[str],
) -> None:
    silent_graph(fake_graph)
    use_env({**graph_env, "APNS_NETWORK_TIMEOUT": QUICK})
    assert apns_bot(["status"]) == 2
    err = capsys.readouterr().err
    assert "timed out" in err and "127.0.0.1" in err and "Traceback" not in err


def test_status_json_gives_up_on_a_silent_sign_in_with_a_json_error(
    graph_env: dict[str, str], dead: DeadHost, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({**graph_env, "AZURE_AUTHORITY_HOST": dead.netloc, "APNS_NETWORK_TIMEOUT": QUICK})
    assert apns_bot(["status", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "auth"
    assert "timed out" in error["message"] and dead.netloc in error["message"]


def test_check_gives_up_on_a_silent_sign_in_and_exits_2(
    graph_env: dict[str, str], dead: DeadHost, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({**graph_env, "AZURE_AUTHORITY_HOST": dead.netloc, "APNS_NETWORK_TIMEOUT": QUICK})
    assert apns_bot(["check"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("FAILED default:") and "timed out" in out and dead.netloc in out


def test_run_stops_at_start_up_when_slack_is_silent(
    bot_env: dict[str, str], dead: DeadHost, use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({**bot_env, "SLACK_API_URL": dead.url + "/api/", "APNS_NETWORK_TIMEOUT": QUICK})
    assert apns_bot(["run", "--http", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "Slack Web API timed out" in err and dead.netloc in err


def test_the_cli_prints_only_its_own_lines_at_the_default_log_level(
    bot_env: dict[str, str], dead: DeadHost, tmp_path
) -> None:
    """As a user runs it: a process of its own, so the CLI's logging is set up as in real life.
    The check posts its failure to a silent Slack too (slack_sdk logs that as an error)."""
    env = clean_env(**all_dead(bot_env, dead))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "FAILED default:" in done.stdout and "timed out" in done.stdout
    loggers = set(re.findall(r" (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): ", done.stderr))
    assert loggers and all(name.startswith("bot.") for name in loggers), done.stderr
    assert "check_failed:" not in done.stderr
    # at LOG_LEVEL=DEBUG the demoted lines show again: test_cli_basics.test_library_chatter_is_debug
