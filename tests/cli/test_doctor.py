"""`apns-bot doctor` against the fakes: every piece passes, and a broken piece says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.store import SCHEMA_VERSION, SqliteStore
from tests.adapters.store.fixtures import raw
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
    SqliteStore(Path(bot_env["APNS_DB_PATH"])).close()  # created by the bot's first run
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
    SqliteStore(Path(bot_env["APNS_DB_PATH"])).close()  # created by the bot's first run
    apns_bot(["doctor"])
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    assert "PASS" in line and f"schema version {SCHEMA_VERSION}, writable" in line


def database_line(capsys: pytest.CaptureFixture[str]) -> str:
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    return line


def test_doctor_never_creates_or_upgrades_the_schema(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(bot_env)
    assert apns_bot(["doctor"]) == 0
    line = database_line(capsys)
    assert "WARN  database" in line and "schema version 0" in line
    path = Path(bot_env["APNS_DB_PATH"])
    assert raw(path, "PRAGMA user_version") == [(0,)]
    assert raw(path, "SELECT name FROM sqlite_master WHERE type = 'table'") == []


def test_doctor_warns_about_an_older_schema_and_fails_a_newer_one(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env(bot_env)
    path = Path(bot_env["APNS_DB_PATH"])
    SqliteStore(path).close()
    raw(path, f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    assert apns_bot(["doctor"]) == 0
    line = database_line(capsys)
    assert "WARN  database" in line and f"schema version {SCHEMA_VERSION - 1}" in line
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION - 1,)]

    raw(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert apns_bot(["doctor"]) == 1
    assert "FAIL  database" in database_line(capsys)


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
