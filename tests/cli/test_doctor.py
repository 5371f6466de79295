"""`apns-bot doctor` against the fakes: every piece passes, and a broken piece says how to fix it."""

from __future__ import annotations

import pytest

from bot.adapters.store import SCHEMA_VERSION
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import UseEnv, apns_bot


def test_everything_passes_against_healthy_fakes(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(bot_env)
    assert apns_bot(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("settings", "database", "slack", "apple-ca", "entra sign-in", "graph read"):
        assert f"PASS  {name}" in out
    assert "FAIL" not in out


def test_a_bad_secret_and_missing_scopes_fail_with_fixes(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_slack.scopes = "commands,chat:write"
    use_env({**bot_env, "AZURE_CLIENT_SECRET": "wrong-secret"})
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  entra sign-in" in out and "AADSTS7000215" in out
    assert "FAIL  slack scopes" in out and "files:read" in out and "fix:" in out
    assert "SKIP  graph read" in out  # no token, so no Graph read was attempted


def test_settings_problems_are_listed_and_graph_still_checked(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {k: v for k, v in bot_env.items() if k != "APNS_CHANNEL"}
    use_env(env)
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  settings" in out and "APNS_CHANNEL" in out
    assert "PASS  graph read" in out


def test_the_database_check_names_the_schema_version_and_write_access(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(bot_env)
    apns_bot(["doctor"])
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    assert "PASS" in line and f"schema version {SCHEMA_VERSION}, writable" in line


def test_an_unreachable_postgresql_fails_the_database_check_without_its_password(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://apns:hunter2-secret@127.0.0.1:1/apns?connect_timeout=2"
    use_env({**bot_env, "APNS_DATABASE_URL": url})
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  database" in out and "postgresql://apns@127.0.0.1:1/apns" in out
    assert "check APNS_DATABASE_URL" in out and "hunter2" not in out
