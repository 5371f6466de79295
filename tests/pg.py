"""PostgreSQL for the tests: a fresh schema per test on the server ``APNS_TEST_DATABASE_URL`` names.

Without the variable the PostgreSQL tests are not collected (one line at the end of the run says
how to run them); with it, a server that cannot be reached fails them loudly, never skips them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

ENV = "APNS_TEST_DATABASE_URL"
URL = os.environ.get(ENV, "").strip() or None
HOW_TO_RUN = (
    f"PostgreSQL store tests not run: set {ENV}=postgresql://postgres@127.0.0.1:5432/test "
    "(any server and database you may create schemas in) to run them"
)


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` for every connection made from it."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def reachable(url: str) -> None:
    """Fail the test (loudly) when the configured server cannot be used."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"{ENV} is set but the server cannot be used: {exc}", pytrace=False)


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new, empty schema (dropped afterwards, with everything in it): its URL."""
    reachable(url)
    schema = f"apns_test_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
