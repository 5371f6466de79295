"""Fixtures of the ``apns-bot run`` tests: the fake Socket Mode server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.slack_server import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode


@pytest.fixture
def socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """A fake Socket Mode server the fake Slack hands out (``apps.connections.open``)."""
    fake = FakeSocketMode()
    fake_slack.socket_url = fake.url
    yield fake
    fake.close()
