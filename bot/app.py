"""``build_app(settings, deps)``: the Bolt app, with nothing running at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.config import Settings, TenantSettings
from bot.runtime import Background, GraphClients
from bot.slack import commands
from bot.slack.web import build_web_client

if TYPE_CHECKING:
    from bot.adapters.graph import GraphClient

log = logging.getLogger(__name__)

# Bolt's default listener pool has 5 threads; acknowledgements wait for a free one, so bursts of
# commands and clicks need more. Listeners only ack and enqueue, so threads are cheap here.
LISTENER_THREADS = 32


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    """Everything the listeners need from the outside world; tests pass their own."""

    slack: WebClient
    graph: Callable[[TenantSettings], GraphClient]
    background: Background = field(default_factory=Background)
    clock: Callable[[], datetime] = utcnow

    def close(self) -> None:
        self.background.shutdown(wait=True)
        close = getattr(self.graph, "close", None)
        if callable(close):
            close()


def build_deps(settings: Settings) -> Deps:
    return Deps(slack=build_web_client(settings), graph=GraphClients(settings))


def build_app(settings: Settings, deps: Deps) -> App:
    if settings.slack is None:
        raise ValueError("build_app needs Slack settings")
    socket_mode = settings.slack.socket_mode
    app = App(
        client=deps.slack,
        signing_secret=(
            settings.slack.signing_secret.reveal() if settings.slack.signing_secret else ""
        ),
        # Socket Mode messages are authenticated by the app-level token's connection instead.
        request_verification_enabled=not socket_mode,
        # `apns-bot run` checks auth.test itself, with a readable error, before serving.
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="apns-ack"
        ),
        raise_error_for_unhandled_request=False,
    )
    commands.register(app, settings, deps)
    app.error(_handle_error)
    return app


def _handle_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Central error handler: log server-side, never show a traceback in Slack."""
    kind = body.get("type") or body.get("command") or "request"
    log.error("unhandled error in a %s listener", kind, exc_info=error)
    return BoltResponse(status=500, body="")
