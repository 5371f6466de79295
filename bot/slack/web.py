"""The Slack Web API client the bot uses everywhere (one per process)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.adapters.tls import ssl_context
from bot.config import Settings


def build_web_client(settings: Settings) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` that retries connection errors and 429s (Retry-After)."""
    if settings.slack is None:
        raise ValueError("Slack settings are required to build a WebClient")
    return WebClient(
        token=settings.slack.bot_token.reveal(),
        base_url=settings.slack.api_url,
        ssl=ssl_context(settings.ca_bundle),
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )
