"""Composition of delegated sign-in for a running bot (used by ``bot.runtime.compose.build_deps``).

Built only when some tenant signs in as its approvers (``AZURE_AUTH_MODE=delegated``) and
``APNS_TOKEN_KEY`` is set (``load_settings`` insists on that). App-only tenants of the same bot
keep their app-only clients: every function here falls through to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot.adapters.entra.delegated import DelegatedGraphs, DelegatedTokens
from bot.adapters.sealing import build_sealer
from bot.adapters.store import Store
from bot.config import Settings, TenantSettings
from bot.slack.listeners.signin import SlackSignInNotifier
from bot.usecases.signins import DelegatedSignIns

if TYPE_CHECKING:
    from bot.adapters.graph.client import GraphClient


@dataclass
class Delegated:
    graphs: DelegatedGraphs
    signins: DelegatedSignIns

    def graph_factory(self, settings: Settings, tenant: TenantSettings) -> GraphClient:
        """For ``GraphClients``: a delegated tenant reads with its latest valid sign-in."""
        if tenant.delegated:
            return self.graphs.reader(settings, tenant)
        from bot.adapters.graph.client import build_graph_client

        return build_graph_client(settings, tenant)

    def graph_for(
        self, graph: Callable[[TenantSettings], GraphClient]
    ) -> Callable[[TenantSettings, str], GraphClient]:
        """For ``Renewals``: uploads in a delegated tenant are made as the person applying."""

        def client(tenant: TenantSettings, actor: str) -> GraphClient:
            return self.graphs.for_user(tenant, actor) if tenant.delegated else graph(tenant)

        return client

    def close(self) -> None:
        self.graphs.close()


def build_delegated(
    settings: Settings,
    store: Store,
    slack: WebClient,
    clock: Callable[[], datetime],
    submit: Callable[..., Any],
) -> Delegated | None:
    sealer = build_sealer(settings.token_keys)
    if sealer is None or not any(t.delegated for t in settings.tenants.values()):
        return None
    tokens = DelegatedTokens(settings, store, sealer, clock)
    signins = DelegatedSignIns(settings, store, tokens, SlackSignInNotifier(slack), clock, submit)
    return Delegated(DelegatedGraphs(tokens), signins)
