"""A VPP sync failure the daily check has alerted on is failing everywhere it is shown.

Graph's ``lastSyncDateTime`` for VPP is the last *attempt*: only the check's snapshot knows since
when a VPP sync has been failing. ``/apns status`` and the App Home read Graph themselves, and
time the failure against that snapshot as the check does; ``apns-bot status`` and ``check
--no-post`` (which do not open the database) still show the sync as failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli.test_check import use_env
from tests.clock import T0
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_tokens import vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_token_watch import check, status_items, token_posts
from tests.harness import LEAD_1, MovableClock, RunningBot, apns_bot
from tests.slack.test_home import open_home, published, view_of

EXPIRY = T0 + timedelta(days=186)


def failing_vpp(fake_graph: FakeGraph, attempt_at: object) -> None:
    """A VPP token whose last attempt (moments ago) failed: Intune keeps retrying."""
    token = vpp_token(expires_at=EXPIRY, last_sync=attempt_at, last_sync_status="failed")
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [token])


def vpp_line(bot: RunningBot, fake_slack: FakeSlack) -> str:
    items = status_items(bot, fake_slack)
    return next(line for line in items.splitlines() if "Apps and Books" in line)


def test_slack_status_and_the_home_tab_time_a_vpp_failure_as_the_check_does(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
) -> None:
    bot = start_bot()
    failing_vpp(fake_graph, clock() - timedelta(minutes=20))
    line = vpp_line(bot, fake_slack)  # no check has seen it yet: failing, not yet a problem
    assert ":large_green_circle:" in line and "sync with Apple failing (first seen now)" in line
    assert check(bot).posted == ()  # the check first sees it now
    clock.advance(days=2)
    failing_vpp(fake_graph, clock() - timedelta(minutes=20))  # Intune retried, failed again
    assert token_posts(check(bot)) == ["vpp problem sync"]

    line = vpp_line(bot, fake_slack)  # a fresh read, timed against the check's snapshot
    assert ":red_circle:" in line and f"sync with Apple failing since {T0:%Y-%m-%d}" in line

    later = start_bot()  # no check result cached: the App Home reads Graph itself
    open_home(later, user=LEAD_1)
    view = json.dumps(view_of(published(fake_slack, "Watched items", user=LEAD_1)))
    assert f"sync with Apple failing since {T0:%Y-%m-%d}" in view and ":red_circle:" in view


@pytest.fixture
def graph_only(graph_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    use_env(monkeypatch, tmp_path, graph_env)
    return graph_env


def test_the_cli_shows_a_failing_vpp_sync_without_counting_it_yet(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    failing_vpp(fake_graph, T0 - timedelta(minutes=20))
    assert apns_bot(["status"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "Apps and Books (VPP)" in x]
    assert line.split()[0] == "OK" and "sync with Apple failing (start not known)" in line
    assert apns_bot(["check", "--no-post"]) == 0  # not timed without the database: no problem
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("OK default vpp")]
    assert "sync with Apple failing (start not known)" in line
