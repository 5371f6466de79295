"""Many tenants against one fake Graph: the fleet table, and a failing tenant never hides the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FakeGraph, Fault

TENANTS = {
    "contoso": "11111111-1111-4111-8111-111111111111",
    "fabrikam": "22222222-2222-4222-8222-222222222222",
    "northwind": "33333333-3333-4333-8333-333333333333",
    "tailspin": "44444444-4444-4444-8444-444444444444",
    "woodgrove": "55555555-5555-4555-8555-555555555555",
}


def fleet_file(tmp_path: Path, fake_graph: FakeGraph) -> dict[str, str]:
    """A tenants file with five tenants on the fake; returns the environment that uses it."""
    lines = [
        f'client_id = "{FAKE_CLIENT_ID}"',
        'client_secret_env = "MSP_SECRET"',
        'approvers = ["U0LEADONE"]',
        f'authority_host = "{fake_graph.authority_host}"',
        f'graph_url = "{fake_graph.graph_url}"',
    ]
    for i, (name, tenant_id) in enumerate(TENANTS.items()):
        lines += [f"[tenants.{name}]", f'tenant_id = "{tenant_id}"', f'channel = "C0CHAN{i}"']
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


@pytest.fixture
def fleet(tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> FakeGraph:
    env = fleet_file(tmp_path, fake_graph)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    fake_graph.set_permission("None", TENANTS["fabrikam"])  # every Graph call answers 403
    fake_graph.inject("GET", shapes.CERT_PATH, Fault.throttle(1))  # one tenant is throttled once
    fake_graph.set_entity(TENANTS["tailspin"], expirationDateTime="2026-11-01T10:00:00Z")
    fake_graph.clear_certificate(TENANTS["woodgrove"])
    return fake_graph


def test_status_all_json_is_sorted_by_urgency_and_reports_the_failing_tenant(
    fleet: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--all", "--json"]) == 2  # one tenant could not be read
    document = json.loads(capsys.readouterr().out)
    rows = {row["tenant"]: row for row in document["tenants"]}
    order = [row["tenant"] for row in document["tenants"]]
    assert order[0] == "fabrikam" and rows["fabrikam"]["state"] == "check_failed"
    assert "DeviceManagementServiceConfig" in rows["fabrikam"]["error"]
    assert order[1] == "tailspin" and rows["tailspin"]["state"] == "expired"
    assert rows["tailspin"]["days_left"] < 0
    assert order[2] == "woodgrove" and rows["woodgrove"]["state"] == "missing"
    assert set(order[3:]) == {"contoso", "northwind"}  # the throttled one was waited out
    assert (
        rows["northwind"]["state"] == "ok"
        and rows["northwind"]["apple_id"] == "mdm-admin@contoso.example"
    )
    assert fleet.pending_faults() == 0


def test_status_all_table_and_progress_bar(
    fleet: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--all", "--progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == ["TENANT", "STATE", "DAYS", "EXPIRES", "APPLE", "ID"]
    assert lines[1].startswith("fabrikam") and "CHECK FAILED" in lines[1]
    assert "5/5 tenants" in captured.err


def test_status_of_one_named_tenant_and_an_unknown_name(
    fleet: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "tailspin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tenant"] == "tailspin"
    assert main(["status", "nosuch"]) == 2
    assert "configured: contoso, fabrikam" in capsys.readouterr().err
