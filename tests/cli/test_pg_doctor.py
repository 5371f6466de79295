"""`apns-bot doctor` on PostgreSQL (``APNS_TEST_DATABASE_URL``): reachable, migrated, writable."""

from __future__ import annotations

import psycopg
import pytest

from bot.adapters.store import SCHEMA_VERSION
from bot.adapters.store.postgres import PostgresStore
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
    assert apns_bot(["doctor"]) == 0  # a database no bot has used yet: doctor creates nothing
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    assert "WARN  database" in line and "schema version 0" in line
    with psycopg.connect(pg_url) as conn:
        found = conn.execute("SELECT to_regclass('schema_version') IS NULL").fetchone()
        assert found == (True,)

    PostgresStore(pg_url).close()  # the bot's first start
    assert apns_bot(["doctor"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if "  database" in x]
    assert "PASS" in line and line.split("database", 1)[1].strip().startswith("postgresql://")
    assert f"(PostgreSQL, schema version {SCHEMA_VERSION}, writable)" in line
