"""Shared fixtures: TLS material and the fake Entra ID + Graph server on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.fakes.graph_server import FakeGraph
from tests.fakes.tls import TlsMaterial, make_tls_material

# PostgreSQL-only modules (test_pg_*.py) run when APNS_TEST_DATABASE_URL names a server; the
# contract suite's postgresql half is parametrized away (tests/adapters/store/conftest.py).
collect_ignore_glob = [] if pg.URL else ["**/test_pg_*.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if pg.URL is None:
        terminalreporter.write_line(pg.HOW_TO_RUN, yellow=True)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL, dropped afterwards (only in tests that need the server)."""
    if pg.URL is None:  # a test_pg_* module named on the command line, say
        if os.environ.get("CI"):
            pytest.fail(pg.HOW_TO_RUN, pytrace=False)  # CI runs them, never skips them
        pytest.skip(pg.HOW_TO_RUN)
    with pg.fresh_schema(pg.URL) as url:
        yield url


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA (``ca_bundle``, used as SSL_CERT_FILE) and a 127.0.0.1 server certificate."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def fake_graph_server(tls_material: TlsMaterial) -> Iterator[FakeGraph]:
    """One fake Graph for the whole session; use ``fake_graph`` for a clean state per test."""
    with FakeGraph(tls_material) as server:
        yield server


@pytest.fixture
def fake_graph(fake_graph_server: FakeGraph) -> FakeGraph:
    """The fake Graph, reset: the default tenant with a healthy certificate and one app whose
    client secret is ``FAKE_CLIENT_SECRET``; no faults, no latency, no recorded requests."""
    fake_graph_server.reset()
    return fake_graph_server


@pytest.fixture
def graph_env(fake_graph: FakeGraph, tmp_path: Path) -> dict[str, str]:
    """Settings (as an environment mapping) pointing apns-bot at ``fake_graph``."""
    return {**fake_graph.env(), "APNS_DB_PATH": str(tmp_path / "apns-bot.sqlite3")}
