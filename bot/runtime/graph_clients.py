"""Per-tenant Graph clients of a running bot, built on first use and sharing connection pools."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bot.adapters.entra.app_only import settings_timeout
from bot.adapters.entra.http import SignInHttpClient
from bot.adapters.graph.client import build_graph_client, graph_timeout, shared_http_client
from bot.adapters.graph.retry import RetryPolicy
from bot.config import Settings, TenantSettings
from bot.usecases.ports import GraphClient
from bot.usecases.tenant_pool import MAX_CONCURRENT_TENANTS

# Every tenant on the pool reads its watched items with one request (a JSON batch:
# bot.adapters.graph.batch), so one connection per tenant read at once; fewer and reads queue for
# one. 64 connections at 200 ms serve at most 320 tenants/s: 1,000 / 64 x 0.2 s = about 3 s is the
# latency floor for 1,000 tenants, not a measurement (docs/benchmarks.md has those).
CONNECTIONS = MAX_CONCURRENT_TENANTS
# (With GRAPH_URL on v1.0 a tenant makes two requests, one after the other: still one at a time.)
# ... spread over several HTTP clients: httpcore's pool scans every connection and every waiting
# request under one lock on each request and response, so one pool of 192 (three reads per tenant
# before batching) spent more CPU there than on the reads themselves (py-spy, 1,000 tenants x 3
# kinds: docs/benchmarks.md).
SHARD_CONNECTIONS = 16


class GraphClients:
    """One Graph client per tenant, built on first use and reused (MSAL caches tokens in it)."""

    def __init__(
        self,
        settings: Settings,
        factory: Callable[[Settings, TenantSettings], GraphClient] | None = None,
        *,
        connections: int = CONNECTIONS,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._retry = retry
        self._factory = factory
        self._clients: dict[str, GraphClient] = {}
        self._lock = threading.Lock()
        self._connections = connections
        # connection pools shared by the tenants' clients: Graph's in shards of
        # SHARD_CONNECTIONS (tenants spread round-robin), and one for MSAL's sign-in host
        self._graph_pools: list[Any] = []
        self._signin_http: SignInHttpClient | None = None

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
        settings = self._settings
        ca = settings.ca_bundle
        if self._signin_http is None:
            size = self._connections
            self._signin_http = SignInHttpClient(ca, settings_timeout(settings), pool_size=size)
        shards = max(1, -(-self._connections // SHARD_CONNECTIONS))
        index = len(self._clients) % shards
        if index >= len(self._graph_pools):
            per_shard = min(self._connections, SHARD_CONNECTIONS)
            timeout = graph_timeout(settings)
            self._graph_pools.append(shared_http_client(ca, timeout=timeout, connections=per_shard))
        return build_graph_client(
            settings,
            tenant,
            http=self._graph_pools[index],
            signin_http=self._signin_http,
            retry=self._retry,
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            for pool in self._graph_pools:
                pool.close()
            self._graph_pools.clear()
            if self._signin_http is not None:
                self._signin_http.close()
                self._signin_http = None
