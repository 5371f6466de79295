"""Per-tenant Graph clients of a running bot, built on first use and sharing connection pools."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bot.adapters.entra.app_only import pinned_session, settings_timeout
from bot.adapters.graph.client import build_graph_client, graph_timeout, shared_http_client
from bot.adapters.graph.retry import RetryPolicy
from bot.config import Settings, TenantSettings
from bot.usecases.ports import GraphClient


class GraphClients:
    """One Graph client per tenant, built on first use and reused (MSAL caches tokens in it)."""

    def __init__(
        self,
        settings: Settings,
        factory: Callable[[Settings, TenantSettings], GraphClient] | None = None,
        *,
        connections: int = 64,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._retry = retry
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
        if self._pools is None:
            settings = self._settings
            ca = settings.ca_bundle
            self._pools = (
                shared_http_client(
                    ca, timeout=graph_timeout(settings), connections=self._connections
                ),
                pinned_session(ca, settings_timeout(settings), pool_size=self._connections),
            )
        http, session = self._pools
        return build_graph_client(
            self._settings, tenant, http=http, session=session, retry=self._retry
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            if self._pools is not None:
                for pool in self._pools:
                    pool.close()
                self._pools = None
