"""The unexpected: a person always hears back, with a reference, and never sees a traceback."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import TenantSettings
from bot.core.tokens import CredentialKind
from bot.usecases.watched import WatchedRead
from tests.fakes.slack_server import FakeSlack
from tests.harness import RunningBot


class Broken:
    def get_certificate(self) -> None:
        raise RuntimeError("boom: a bug, not a Graph error")

    def read_watched(self, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
        raise RuntimeError("boom: a bug, not a Graph error")


def test_an_unexpected_error_reading_status_is_reported_with_a_reference(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    def broken(tenant: TenantSettings) -> Broken:
        return Broken()

    bot.deps.graph = broken  # type: ignore[assignment]
    bot.slack.command("status")
    text = fake_slack.wait_for("response_url").params["text"]
    assert "Something went wrong inside apns-bot" in text and "reference" in text
    assert "boom" not in text and "Traceback" not in text
