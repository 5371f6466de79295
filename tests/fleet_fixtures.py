"""Several tenants on one fake Graph, described by a tenants file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeGraph

TENANTS = {
    "contoso": "11111111-1111-4111-8111-111111111111",
    "fabrikam": "22222222-2222-4222-8222-222222222222",
    "northwind": "33333333-3333-4333-8333-333333333333",
    "tailspin": "44444444-4444-4444-8444-444444444444",
    "woodgrove": "55555555-5555-4555-8555-555555555555",
}


def fleet_file(
    tmp_path: Path,
    fake_graph: FakeGraph,
    approvers: dict[str, list[str]] | None = None,
    viewers: list[str] | None = None,
    display_names: dict[str, str] | None = None,
) -> dict[str, str]:
    """A tenants file with five tenants on the fake; returns the environment that uses it.
    ``viewers``: who may see every tenant (the file's top-level ``viewers``); ``display_names``:
    tenants' ``display_name`` (any string, as an operator may type it)."""
    lines = [
        f'client_id = "{FAKE_CLIENT_ID}"',
        'client_secret_env = "MSP_SECRET"',
        'approvers = ["U0LEADONE"]',
        f'authority_host = "{fake_graph.authority_host}"',
        f'graph_url = "{fake_graph.graph_url}"',
    ]
    if viewers:
        lines.append("viewers = [" + ", ".join(f'"{v}"' for v in viewers) + "]")
    for i, (name, tenant_id) in enumerate(TENANTS.items()):
        lines += [f"[tenants.{name}]", f'tenant_id = "{tenant_id}"', f'channel = "C0CHAN{i}"']
        if display_names and name in display_names:
            lines.append(f"display_name = {json.dumps(display_names[name])}")  # a TOML string
        if approvers and name in approvers:
            lines.append("approvers = [" + ", ".join(f'"{a}"' for a in approvers[name]) + "]")
        fake_graph.add_tenant(tenant_id)
        fake_graph.register_app(tenant_id, FAKE_CLIENT_ID, secret=FAKE_CLIENT_SECRET)
    path = tmp_path / "tenants.toml"
    path.write_text("\n".join(lines) + "\n")
    env = fake_graph.env()
    return {
        "APNS_TENANTS_FILE": str(path),
        "MSP_SECRET": FAKE_CLIENT_SECRET,
        "SSL_CERT_FILE": env["SSL_CERT_FILE"],
        "APNS_DB_PATH": str(tmp_path / "db.sqlite3"),
    }
