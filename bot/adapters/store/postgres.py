"""``PostgresStore``: the ``Store`` port on PostgreSQL, for replicas on several hosts.

The SQL is ``SqlStore``'s (``sql``); ``PgDatabase`` supplies transactions from a psycopg 3
connection pool, row locks (``SELECT … FOR NO KEY UPDATE``) for what a write transaction reads before it
acts, and transaction-scoped advisory locks on names. Every guarantee is the database's, never an
in-process lock, so it holds across any number of processes.

The URL may carry a password: it is used to connect and nowhere else. Messages name the database
by ``display_url`` (user, host, port, database) and have the password scrubbed from any text a
driver error carries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from bot.adapters.store.pg_schema import NAME_SPACE, current_version, migrate
from bot.adapters.store.sql_store import SqlStore
from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.adapters.sealing import Sealer

DEFAULT_POOL_SIZE = 10  # Bolt's listener threads and the bot's executors share it
DEFAULT_TIMEOUT = 10.0  # seconds to connect, or to wait for a free pooled connection
DEFAULT_LOCK_TIMEOUT = 15.0  # seconds a statement waits for a row, table or advisory lock

# A replica whose peer vanished (a host lost, a network cut) must not wait on its socket or its
# locks for ever: TCP keepalives find a dead server in about a minute (30 s idle, then 3 probes
# 10 s apart), the server ends a session left idle inside a transaction after 1 min (the bot's
# transactions last milliseconds) and a statement waits 15 s at most for a lock, then fails like
# any other store error (the work is retried or reported). The start-up migration has no lock
# timeout: a replica waits for another's migration as long as it takes.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
IDLE_IN_TRANSACTION = "1min"


def _parts(url: str) -> dict[str, Any]:
    try:
        return dict(conninfo_to_dict(url))
    except psycopg.ProgrammingError:
        return {}


def display_url(url: str) -> str:
    """The database a URL names, for messages: ``postgresql://user@host:port/db``, no password."""
    parts = _parts(url)
    if not parts:
        return "postgresql://(a URL that cannot be parsed)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def _raw_userinfo(url: str) -> list[str]:
    """The ``user:password`` of a URL libpq cannot parse, as written, and its password alone."""
    rest = url.split("://", 1)[-1]
    userinfo = rest.rsplit("@", 1)[0] if "@" in rest else ""
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    return [part for part in (userinfo, password) if part]


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (and the URL itself) replaced by ``***``; for a URL that
    cannot be parsed, its user and password as written (and libpq quotes them as they are)."""
    parts = _parts(url)
    text = text.replace(url, display_url(url))
    secrets = [str(parts["password"])] if parts.get("password") else []
    if not parts:
        secrets = _raw_userinfo(url)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def session_settings(url: str, lock_timeout: float | None) -> dict[str, Any]:
    """Connection keywords: keepalives, and the server settings above added to the URL's own
    ``options`` (which a keyword would otherwise replace)."""
    options = [
        str(_parts(url).get("options") or ""),
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION}",
    ]
    if lock_timeout is not None:
        options.append(f"-c lock_timeout={max(1, round(lock_timeout * 1000))}ms")
    return {**KEEPALIVES, "options": " ".join(o for o in options if o)}


def _pyformat(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's ``%s`` (no statement holds ``%``)."""
    if "%" in sql:
        raise ValueError("store SQL must not contain '%'")
    return sql.replace("?", "%s")


class PgConn:
    """A pooled connection speaking the shared SQL (``sql.Conn``)."""

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self._conn = conn

    @property
    def connection(self) -> psycopg.Connection[DictRow]:
        """The psycopg connection, for what the shared SQL does not cover."""
        return self._conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[DictRow]:
        return self._conn.execute(_pyformat(sql), parameters)


class PgDatabase:
    """A migrated PostgreSQL database behind a connection pool (``sql.Database``)."""

    # rows a write transaction reads, then changes: held until it ends; NO KEY lets the foreign-key
    # checks of other transactions (an audit event, an approval for that request) go ahead
    for_update = " FOR NO KEY UPDATE"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        upgrade: bool = True,
    ) -> None:
        """``upgrade=False`` only checks the server can be reached and leaves the schema as it is."""
        self._url = url
        self.label = display_url(url)
        if not _parts(url):
            # libpq's message would quote the part it could not read: the password, say
            raise StoreError(
                "The database could not be used: its URL cannot be parsed "
                "(percent-encode spaces and special characters in the password)."
            )
        try:
            with psycopg.connect(
                url,
                connect_timeout=max(1, int(timeout)),
                row_factory=dict_row,
                **session_settings(url, lock_timeout=None),  # the migration waits its turn
            ) as conn:
                if upgrade:
                    migrate(conn, self.label)
                else:
                    conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise self._fail(exc) from None  # the driver's text, scrubbed, is in the message
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] | None = ConnectionPool(
            url,
            kwargs={
                "row_factory": dict_row,
                "connect_timeout": max(1, int(timeout)),
                **session_settings(url, lock_timeout),
            },
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
            check=ConnectionPool.check_connection,  # a server restart costs no failed request
            name="apns-store",
            open=False,
        )
        self._pool.open(wait=False)

    def _fail(self, exc: BaseException) -> StoreError:
        detail = type(exc).__name__
        if _parts(self._url):  # a URL libpq cannot parse gets quoted in ways scrub may miss
            detail = scrub(str(exc).strip() or detail, self._url)
        return StoreError(f"The database {self.label} could not be used: {detail}")

    def lock(self, conn: Any, name: str) -> None:
        conn.execute(
            "SELECT pg_advisory_xact_lock(?::integer, hashtext(current_schema() || '/' || ?))",
            (NAME_SPACE, name),
        )

    def lock_tables(self, conn: Any, tables: Sequence[str]) -> None:
        # EXCLUSIVE: readers go on, every writer waits for the commit
        conn.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[PgConn]:
        """One transaction on a pooled connection: committed when the block ends, rolled back
        on any exception. ``psycopg`` errors come out as ``StoreError``. A read
        (``write=False``) is REPEATABLE READ, READ ONLY: every statement in it sees one snapshot.
        A write stays READ COMMITTED: what it reads before it acts is locked row by row
        (``for_update``, ``lock``)."""
        pool = self._pool
        if pool is None:
            raise StoreError("The database has been closed.")
        try:
            with pool.connection() as conn, conn.transaction():
                if not write:  # a request and its approvals, say, as of one moment
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield PgConn(conn)
        except psycopg.Error as exc:
            raise self._fail(exc) from None  # the driver's text, scrubbed, is in the message

    def schema_version(self) -> int:
        with self.transaction(write=False) as conn:
            return current_version(conn.connection)


class PostgresStore(SqlStore):
    """The bot's state in PostgreSQL (``APNS_DATABASE_URL``), shared by replicas on any host."""

    def __init__(
        self,
        url: str,
        *,
        sealer: Sealer | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        upgrade: bool = True,
    ) -> None:
        db = PgDatabase(
            url, pool_size=pool_size, timeout=timeout, lock_timeout=lock_timeout, upgrade=upgrade
        )
        super().__init__(db, sealer=sealer)
        self.label = db.label
