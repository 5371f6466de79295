"""Fixtures for whole-bot tests: the fake Slack, a movable clock, and the bot serving HTTP.

The bot runs in-process exactly as ``apns-bot run --http`` builds it (settings from an env
mapping, ``build_deps``, ``build_app``, waitress on 127.0.0.1), and tests talk to it with signed
requests over a real socket; what it sends goes to the fake Slack and the fake Graph.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.cli.run import metrics_token
from bot.config import Settings, load_settings
from bot.runtime.compose import Deps, build_deps
from bot.runtime.server import make_server
from bot.slack.app import build_app
from tests.certgen import ca_dir
from tests.clock import Clock, MovableClock, RecordingSleep
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import BOT_TOKEN, FakeSlack
from tests.slack_requests import SIGNING_SECRET, SlackSender

CHANNEL = "C0APNSOPS"
REQUESTER = "U0REQUESTER"
LEAD_1 = "U0LEADONE"
LEAD_2 = "U0LEADTWO"
GROUP_LEAD = "U0GROUPLEAD"
LEADS_GROUP = "S0LEADS"
OUTSIDER = "U0OUTSIDER"


def apns_bot(
    argv: Sequence[str], clock: Clock | None = None, sleep: RecordingSleep | None = None
) -> int:
    """``apns-bot ARGV`` in this process, with "now" at ``T0`` unless ``clock`` says otherwise,
    and retries' waits recorded (in ``sleep``, when given) instead of waited.

    Like the real command it reads the process environment (see ``use_env``).
    """
    return main(list(argv), clock=clock or MovableClock(), sleep=sleep or RecordingSleep())


@dataclass
class RunningBot:
    settings: Settings
    deps: Deps
    url: str
    slack: SlackSender
    clock: MovableClock

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``: the server's root (``/healthz``, ``/metrics``)."""
        return self.url.removesuffix("/slack/events")

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until the bot's background work queued so far has finished."""
        done = threading.Event()
        self.deps.background.submit(done.set)
        assert done.wait(timeout), "background work did not finish"


def serve_until_closed(server: Any) -> None:
    """waitress's loop fails with EBADF when its sockets are closed under it: that is the stop."""
    with contextlib.suppress(OSError):
        server.run()


def stop_process(proc: subprocess.Popen[str], timeout: float = 15) -> None:
    """End a bot started as a subprocess: SIGTERM, then kill after ``timeout``; close its pipes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


UseEnv = Callable[[dict[str, str]], None]


@pytest.fixture
def use_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> UseEnv:
    """Make ``env`` the process environment (as a user's shell would), in an empty directory."""

    def apply(env: dict[str, str]) -> None:
        for key in list(os.environ):
            if key.startswith(("SLACK_", "APNS_", "AZURE_", "GRAPH_", "APPLE_")):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(str(tmp_path))

    return apply


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.close()


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack) -> FakeSlack:
    fake_slack_server.reset()
    fake_slack_server.usergroups = {LEADS_GROUP: [GROUP_LEAD]}
    return fake_slack_server


@pytest.fixture
def bot_env(graph_env: dict[str, str], fake_slack: FakeSlack, tmp_path: Path) -> dict[str, str]:
    """A complete HTTP-mode configuration against the fakes (generated Apple-like CA trusted)."""
    return {
        **graph_env,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "APNS_CHANNEL": CHANNEL,
        "APNS_APPROVERS": f"{LEAD_1},{LEAD_2},{LEADS_GROUP}",
        "APPLE_CA_DIR": str(ca_dir(tmp_path / "apple-ca")),
    }


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def sleeps() -> RecordingSleep:
    """The bot's waits between retries (Graph's Retry-After, backoff), recorded, not waited."""
    return RecordingSleep()


@pytest.fixture
def start_bot(
    bot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    clock: MovableClock,
    sleeps: RecordingSleep,
) -> Iterator[Callable[..., RunningBot]]:
    """Start the bot (``start_bot(**env_overrides)``); every bot started is stopped afterwards.

    Every bot and the fake Graph share ``clock``; retries' waits go to ``sleeps``.
    """
    running: list[tuple[Any, threading.Thread, Deps]] = []
    fake_graph.clock = clock

    def start(**overrides: str) -> RunningBot:
        settings = load_settings({**bot_env, **overrides})
        deps = build_deps(settings, clock=clock, sleep=sleeps)
        server = make_server(
            build_app(settings, deps, http=True),
            "127.0.0.1",
            0,
            signing_secret=SIGNING_SECRET,
            loop_timeout=0.05,
            answering=deps.answering,
            metrics=deps.metrics.exposition,
            metrics_token=metrics_token(settings),
        )
        thread = threading.Thread(target=serve_until_closed, args=(server,), daemon=True)
        thread.start()
        running.append((server, thread, deps))
        url = f"http://127.0.0.1:{server.effective_port}/slack/events"
        return RunningBot(settings, deps, url, SlackSender(url, fake_slack.base), clock)

    yield start
    for server, thread, deps in running:
        server.close()
        thread.join(5)
        deps.close()


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot]) -> RunningBot:
    return start_bot()
