"""`apns-bot doctor` on PostgreSQL (``APNS_TEST_DATABASE_URL``): reachable, migrated, writable."""

from __future__ import annotations

import pytest

from bot.adapters.store import SCHEMA_VERSION
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.harness import UseEnv, apns_bot


def test_the_database_check_passes_on_postgresql_with_version_and_write_access(
    bot_env: dict[str, str],
    use_env: UseEnv,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_env({**bot_env, "APNS_DATABASE_URL": pg_url})
    assert apns_bot(["doctor"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    assert "PASS" in line and line.split("database", 1)[1].strip().startswith("postgresql://")
    assert f"(PostgreSQL, schema version {SCHEMA_VERSION}, writable)" in line
