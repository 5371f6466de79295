"""The Slack Web API client the bot uses everywhere (one per process)."""

from __future__ import annotations

import math
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.adapters.tls import ssl_context
from bot.config import Settings
from bot.slack.timeouts import timed_out


class RateLimitWait(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (wait Retry-After plus up to a second of jitter, then retry), with
    the wait done by ``sleep``: tests record it instead of waiting."""

    def __init__(self, max_retry_count: int, sleep: Callable[[float], None]) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("a retry without a response")
        state.next_attempt_requested = True
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
        try:
            seconds = int(values[0]) if values else 1
        except ValueError:
            seconds = 1
        self._sleep(seconds + random.random())  # noqa: S311 - jitter, not a secret
        state.increment_current_attempt()


class DroppedConnectionRetryHandler(ConnectionErrorRetryHandler):
    """Retries a refused or reset connection, never a timeout: a host that stayed silent for the
    whole ``APNS_NETWORK_TIMEOUT`` is reported at once instead of being waited on twice more."""

    def _can_retry(self, *, error: Exception | None = None, **kwargs: Any) -> bool:
        if timed_out(error):
            return False
        return super()._can_retry(error=error, **kwargs)


def unreachable(exc: BaseException, base_url: str, timeout: float) -> str:
    """Why the Slack Web API could not be reached, naming the host: "timed out" or the error."""
    host = urllib.parse.urlsplit(base_url).netloc or base_url
    if timed_out(exc):
        return f"timed out: {host} did not answer (waited up to {web_timeout(timeout)} s)"
    reason = getattr(exc, "reason", None) or exc
    return f"cannot reach {host} ({reason})"


def web_timeout(network_timeout: float) -> int:
    """slack_sdk takes whole seconds."""
    return max(1, math.ceil(network_timeout))


def build_web_client(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` that retries dropped connections and 429s (Retry-After,
    waited with ``sleep``); each call waits at most ``APNS_NETWORK_TIMEOUT`` for an answer."""
    if settings.slack is None:
        raise ValueError("Slack settings are required to build a WebClient")
    context = ssl_context(settings.ca_bundle)
    client = WebClient(
        token=settings.slack.bot_token.reveal(),
        base_url=settings.slack.api_url,
        ssl=context,
        timeout=web_timeout(settings.network_timeout),
        retry_handlers=[
            DroppedConnectionRetryHandler(max_retry_count=2),
            RateLimitWait(max_retry_count=3, sleep=sleep),
        ],
    )
    if client.proxy is None and not settings.slack.socket_mode:
        # Given an SSL context, slack_sdk calls urlopen(context=...), and urllib then builds a new
        # opener (a dozen handlers, each introspected) for every Web API call and every respond():
        # about 0.35 ms of CPU each, under the GIL the acknowledgements need (docs/benchmarks.md).
        # Install one opener with the same trust for the process and let every call reuse it.
        # (Through a proxy slack_sdk builds its own opener from ``ssl``, and Socket Mode opens its
        # WebSocket with it: there the context stays.)
        urllib.request.install_opener(
            urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        )
        client.ssl = None  # Bolt's respond() copies it: its webhook calls reuse the opener too
    return client


# Slack's trigger_id is good for one views.open within 3 s of the click: a retry after a 429 (which
# would sleep on Bolt's listener thread) or a 15 s timeout could never succeed anyway.
TRIGGER_TIMEOUT = 2  # seconds (slack_sdk takes whole seconds)


def build_trigger_client(base: WebClient) -> WebClient:
    """A client for trigger-bound calls (views.open): no retries, a timeout inside the 3 s."""
    return WebClient(
        token=base.token,
        base_url=base.base_url,
        ssl=base.ssl,
        proxy=base.proxy,
        timeout=TRIGGER_TIMEOUT,
        retry_handlers=[],
    )
