"""PostgreSQL sessions do not hang for ever: TCP keepalives, an idle-in-transaction timeout and a
lock timeout on every pooled connection; the start-up migration still waits for another replica
as long as it takes (``APNS_TEST_DATABASE_URL``)."""

from __future__ import annotations

from contextlib import closing

import psycopg

from bot.adapters.store.pg_schema import LOCK_SPACE, MIGRATION_LOCK
from bot.adapters.store.postgres import PgConn, PostgresStore
from tests.adapters.store.interleave import Racer


def test_pooled_sessions_carry_the_timeouts_and_keep_the_url_s_options(pg_url: str) -> None:
    with (
        PostgresStore(pg_url, lock_timeout=15) as store,
        store._db.transaction(write=False) as conn,
    ):
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[name]
            for name in ("lock_timeout", "idle_in_transaction_session_timeout", "search_path")
        }
        assert isinstance(conn, PgConn)
        params = conn.connection.info.get_parameters()
    assert settings["lock_timeout"] == "15s"
    assert settings["idle_in_transaction_session_timeout"] == "1min"
    assert settings["search_path"].startswith("apns_test_")  # the URL's own options survive
    assert params["keepalives"] == "1" and params["keepalives_idle"] == "30"


def test_a_replica_waits_for_another_s_migration_longer_than_the_lock_timeout(
    pg_url: str,
) -> None:
    with closing(psycopg.connect(pg_url)) as other:  # another replica, migrating
        other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
        starting = Racer(lambda: PostgresStore(pg_url, lock_timeout=0.1).close())
        starting.start()  # waits on the lock five times its lock timeout...
        assert starting.held_off
        other.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
        assert starting.finish() is None  # ...and then starts
