"""Graph clients for delegated tenants: reads with the tenant's latest sign-in, uploads as one person."""

from __future__ import annotations

import threading

from bot.adapters.entra.delegated import DelegatedTokens, TenantReader, UserTokens
from bot.adapters.graph.client import HttpGraphClient, build_graph_client
from bot.config import Settings, TenantSettings


class DelegatedGraphs:
    """Graph clients for delegated tenants: one reader per tenant, one client per acting user."""

    def __init__(self, tokens: DelegatedTokens) -> None:
        self.tokens = tokens
        self._users: dict[tuple[str, str], HttpGraphClient] = {}
        self._lock = threading.Lock()

    def reader(self, settings: Settings, tenant: TenantSettings) -> HttpGraphClient:
        return build_graph_client(
            settings, tenant, token_provider=TenantReader(self.tokens, tenant)
        )

    def for_user(self, tenant: TenantSettings, user_id: str) -> HttpGraphClient:
        with self._lock:
            client = self._users.get((tenant.name, user_id))
            if client is None:
                provider = UserTokens(self.tokens, tenant, user_id)
                client = build_graph_client(self.tokens.settings, tenant, token_provider=provider)
                self._users[(tenant.name, user_id)] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._users.values():
                client.close()
            self._users.clear()
