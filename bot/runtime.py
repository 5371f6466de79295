"""Long-lived parts of a running bot: the background executor and per-tenant Graph clients.

Slack must see every command, click and submission acknowledged within 3 seconds, so listeners
only acknowledge and hand slow work (Graph, downloads, Slack posts) to ``Background``. Its pool is
the bot's own, separate from Bolt's listener pool, so a slow Graph never starves acknowledgements.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from bot.config import Settings, TenantSettings

if TYPE_CHECKING:
    from bot.adapters.graph import GraphClient

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class Background:
    """The bot's own worker pool. Failures are logged with a traceback (server side only)."""

    def __init__(self, max_workers: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="apns-work")

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(_log_failure)
        return future

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def _log_failure(future: Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.error("background task failed", exc_info=exc)


class GraphClients:
    """One Graph client per tenant, built on first use and reused (MSAL caches tokens in it)."""

    def __init__(
        self,
        settings: Settings,
        factory: Callable[[Settings, TenantSettings], GraphClient] | None = None,
        *,
        connections: int = 64,
    ) -> None:
        self._settings = settings
        self._factory = factory
        self._clients: dict[str, GraphClient] = {}
        self._lock = threading.Lock()
        self._connections = connections
        # connection pools shared by every tenant's client (Graph, and MSAL's sign-in host)
        self._pools: tuple[Any, Any] | None = None

    def __call__(self, tenant: TenantSettings) -> GraphClient:
        with self._lock:
            client = self._clients.get(tenant.name)
            if client is None:
                client = (
                    self._factory(self._settings, tenant)
                    if self._factory is not None
                    else self._build(tenant)
                )
                self._clients[tenant.name] = client
            return client

    def _build(self, tenant: TenantSettings) -> GraphClient:
        from bot.adapters.auth import DEFAULT_TIMEOUT, pinned_session
        from bot.adapters.graph import build_graph_client, shared_http_client

        if self._pools is None:
            ca = self._settings.ca_bundle
            self._pools = (
                shared_http_client(ca, connections=self._connections),
                pinned_session(ca, DEFAULT_TIMEOUT, pool_size=self._connections),
            )
        http, session = self._pools
        return build_graph_client(self._settings, tenant, http=http, session=session)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            if self._pools is not None:
                for pool in self._pools:
                    pool.close()
                self._pools = None


def internal_error(what: str) -> str:
    """Log the exception being handled with a short reference; return a user-safe sentence.

    For the unexpected: the person sees that nothing half-done happened and a reference an
    operator can find in the log, never a traceback.
    """
    reference = secrets.token_hex(4)
    log.exception("%s failed unexpectedly (reference %s)", what, reference)
    return (
        f"Something went wrong inside apns-bot while {what}; nothing was changed. "
        f"The bot's log has the details (reference {reference})."
    )
