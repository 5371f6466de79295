"""The Graph adapter's fixtures: a client for the fake Graph's default tenant, sleeps recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.graph.client import HttpGraphClient, build_graph_client
from bot.adapters.graph.retry import RetryPolicy
from bot.config import Settings, load_settings
from tests.clock import RecordingSleep


@pytest.fixture
def settings(graph_env: dict[str, str]) -> Settings:
    return load_settings(graph_env, need_slack=False)


@pytest.fixture
def sleeps() -> RecordingSleep:
    """Every backoff the client takes, recorded instead of waited."""
    return RecordingSleep()


@pytest.fixture
def fast_retry(sleeps: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(base_delay=0.01, max_delay=0.05, sleep=sleeps)


@pytest.fixture
def graph(settings: Settings, fast_retry: RetryPolicy) -> Iterator[HttpGraphClient]:
    with build_graph_client(settings, settings.default_tenant, retry=fast_retry) as client:
        yield client
