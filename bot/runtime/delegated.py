"""Composition of delegated sign-in for a running bot (used by ``bot.runtime.compose.build_deps``).

Built only when some tenant signs in as its approvers (``AZURE_AUTH_MODE=delegated``) and
``APNS_TOKEN_KEY`` is set (``load_settings`` insists on that). App-only tenants of the same bot
keep their app-only clients: every function here falls through to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.entra.delegated import DelegatedTokens
from bot.adapters.graph.client import build_graph_client
from bot.adapters.graph.delegated import DelegatedGraphs
from bot.adapters.sealing import build_sealer
from bot.config import Settings, TenantSettings
from bot.usecases.ports import ActingGraphs, GraphClient, Graphs, Store
from bot.usecases.signins import DelegatedSignIns


def delegated_graphs(
    settings: Settings, store: Store, clock: Callable[[], datetime]
) -> DelegatedGraphs | None:
    """The delegated tenants' Graph clients; None when no tenant signs in as its approvers."""
    sealer = build_sealer(settings.token_keys)
    if sealer is None or not any(t.delegated for t in settings.tenants.values()):
        return None
    return DelegatedGraphs(DelegatedTokens(settings, store, sealer, clock))


def graph_factory(graphs: DelegatedGraphs) -> Callable[[Settings, TenantSettings], GraphClient]:
    """For ``GraphClients``: a delegated tenant reads with its latest valid sign-in."""

    def build(settings: Settings, tenant: TenantSettings) -> GraphClient:
        if tenant.delegated:
            return graphs.reader(settings, tenant)
        return build_graph_client(settings, tenant)

    return build


def acting_graphs(graphs: DelegatedGraphs, graph: Graphs) -> ActingGraphs:
    """For ``Applying``: uploads in a delegated tenant are made as the person applying."""

    def client(tenant: TenantSettings, actor: str) -> GraphClient:
        return graphs.for_user(tenant, actor) if tenant.delegated else graph(tenant)

    return client


@dataclass
class Delegated:
    graphs: DelegatedGraphs
    signins: DelegatedSignIns

    def close(self) -> None:
        self.graphs.close()
