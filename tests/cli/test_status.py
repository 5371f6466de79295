"""``apns-bot status [--json]`` against the fake Graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.status import JSON_KEYS, status_document
from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from tests.clock import T0, iso, real_now
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.harness import apns_bot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(graph_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``apns_bot()`` reads the process environment: make it exactly the fake's settings."""
    for key in [k for k in os.environ if k.startswith(("AZURE_", "GRAPH_", "APNS_", "SLACK_"))]:
        monkeypatch.delenv(key)
    for key, value in graph_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    return graph_env


def test_status_json_shows_the_resource(graph_env: dict[str, str], fake_graph: FakeGraph, tmp_path):
    """End to end, as a user runs it: ``python -m bot status --json``.

    The bot runs as its own process and reads the real clock, so the certificate's dates are
    offsets from the real now here, not from ``T0``.
    """
    expiry = real_now() + timedelta(days=200, hours=12)
    modified = real_now() - timedelta(days=165)
    fake_graph.set_entity(expirationDateTime=iso(expiry), lastModifiedDateTime=iso(modified))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **graph_env}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "status", "--json"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert tuple(document) == JSON_KEYS
    assert document["certificate_present"] is True
    assert document["apple_id"] == "mdm-admin@contoso.example"
    assert document["topic"] == "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
    assert document["serial"] == "0B7002EFEA6BA6D0"
    assert document["expires_at"] == expiry.isoformat()
    assert document["last_modified"] == modified.isoformat()
    assert document["days_left"] == 200
    assert document["state"] == "ok"
    assert datetime.fromisoformat(document["checked_at"]).tzinfo is not None
    assert document["watch"] == ["push", "ade", "vpp"]
    [ade] = document["ade_tokens"]
    [vpp] = document["vpp_tokens"]
    assert ade["name"] == "Contoso ABM" and vpp["name"] == "Contoso Apps and Books"
    assert document["ade_tokens_error"] is None and document["vpp_tokens_error"] is None
    # one read per kind: the certificate, the ADE tokens, the VPP tokens, in one JSON batch
    assert [r.batched for r in fake_graph.graph_calls()] == [True, True, True]
    assert len(fake_graph.batches()) == 1


def test_status_prints_a_readable_summary(cli_env, fake_graph: FakeGraph, capsys):
    assert apns_bot(["status"]) == 0
    out = capsys.readouterr().out
    assert "Apple ID       mdm-admin@contoso.example" in out
    assert "Topic          com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20" in out
    assert "Serial         0B7002EFEA6BA6D0" in out
    assert f"Expires        {DEFAULT_EXPIRY:%Y-%m-%d %H:%M} UTC" in out
    assert f"Remaining      {(DEFAULT_EXPIRY - T0).days} days left (ok)" in out


def test_status_says_when_there_is_no_certificate(cli_env, fake_graph: FakeGraph, capsys):
    fake_graph.clear_certificate()
    assert apns_bot(["status"]) == 0
    assert "No Apple push certificate is uploaded in Intune yet." in capsys.readouterr().out

    assert apns_bot(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert tuple(document) == JSON_KEYS
    assert document["certificate_present"] is False
    assert document["expires_at"] is None
    assert document["days_left"] is None
    assert document["state"] == "missing"


def test_a_missing_permission_is_one_clear_line_and_exit_2(cli_env, fake_graph, capsys):
    fake_graph.set_permission("None")
    assert apns_bot(["status"]) == 2
    captured = capsys.readouterr()
    assert "FAILED   Apple push certificate" in captured.out  # beside the tokens' lines
    assert captured.err.startswith("error: Microsoft Graph refused to read the push certificate")
    assert "DeviceManagementServiceConfig.Read.All" in captured.err
    assert "Traceback" not in captured.err


def test_a_bad_secret_shows_the_aadsts_description(cli_env, monkeypatch, fake_graph, capsys):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    assert apns_bot(["status", "--json"]) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["code"] == "auth"
    assert "AADSTS7000215: Invalid client secret provided." in error["message"]
    assert "Traceback" not in captured.err
    assert fake_graph.graph_requests() == []


def test_missing_settings_are_listed(cli_env, monkeypatch, capsys):
    monkeypatch.delenv("AZURE_TENANT_ID")
    assert apns_bot(["status"]) == 2
    assert "AZURE_TENANT_ID is missing" in capsys.readouterr().err


def test_the_json_document_of_an_expired_certificate():
    tenant = TenantSettings(name="default", tenant_id="contoso.example", client_id="x", channel="")
    certificate = TenantCertificate(
        apple_id="a@b.example",
        topic="com.apple.mgmt.External.x",
        serial="01",
        expires_at=T0 - timedelta(days=10, hours=12),
    )
    document = status_document(tenant, certificate, now=T0)
    assert tuple(document) == JSON_KEYS
    assert document["days_left"] == -11
    assert document["state"] == "expired"
    assert document["expires_at"] == (T0 - timedelta(days=10, hours=12)).isoformat()
    assert document["checked_at"] == T0.isoformat()
