"""Many tenants against one fake Graph: the fleet table, and a failing tenant never hides the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clock import days, iso
from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.harness import apns_bot


@pytest.fixture
def fleet(tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> FakeGraph:
    env = fleet_file(tmp_path, fake_graph)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    fake_graph.set_permission("None", TENANTS["fabrikam"])  # every Graph call answers 403
    fake_graph.inject("GET", shapes.CERT_PATH, Fault.throttle(1))  # one tenant is throttled once
    grace = iso(days(-10))  # expired ten days ago: in Apple's grace period
    fake_graph.set_entity(TENANTS["tailspin"], expirationDateTime=grace)
    fake_graph.clear_certificate(TENANTS["woodgrove"])
    return fake_graph


def test_status_all_json_is_sorted_by_urgency_and_reports_the_failing_tenant(
    fleet: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apns_bot(["status", "--all", "--json"]) == 2  # one tenant could not be read
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
    assert apns_bot(["status", "--all", "--progress"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == [
        "TENANT", "STATE", "DAYS", "EXPIRES", "KIND", "ITEM", "APPLE", "ID", "/", "ORG"
    ]  # fmt: skip
    assert lines[1].startswith("fabrikam") and "CHECK FAILED" in lines[1]
    assert "5/5 tenants" in captured.err


def test_status_of_one_named_tenant_and_an_unknown_name(
    fleet: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apns_bot(["status", "tailspin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tenant"] == "tailspin"
    assert apns_bot(["status", "nosuch"]) == 2
    assert "configured: contoso, fabrikam" in capsys.readouterr().err
