"""PostgreSQL sessions do not hang for ever: TCP keepalives, an idle-in-transaction timeout and a
lock timeout on every pooled connection; the start-up migration still waits for another replica
as long as it takes (``APNS_TEST_DATABASE_URL``)."""

from __future__ import annotations

from contextlib import closing

import psycopg

from bot.adapters.store.pg_schema import LOCK_SPACE, MIGRATION_LOCK
from bot.adapters.store.postgres import PgConn, PostgresStore
from tests import pg
from tests.adapters.store.fixtures import request
from tests.adapters.store.interleave import Racer, pause_after


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


def test_named_locks_are_per_schema_so_two_bots_on_one_server_never_wait_for_each_other(
    pg_url: str,
) -> None:
    assert pg.URL is not None
    with (
        pg.fresh_schema(pg.URL) as other_url,
        PostgresStore(pg_url) as first,
        PostgresStore(other_url) as other,
    ):
        racer = Racer(lambda: other.create_request(request(), unless=lambda pending: None))
        # the first holds its tenant's lock; the other bot's same tenant is another lock
        pause_after(first, "pg_advisory_xact_lock", racer.start)
        first.create_request(request(), unless=lambda pending: None)
        racer.finish()
        assert not racer.held_off
