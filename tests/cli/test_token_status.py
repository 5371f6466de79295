"""``status`` and ``check`` with ADE and VPP tokens: the JSON shape, the lines, the exit codes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli.item_output import TOKEN_KEYS
from bot.cli.status import JSON_KEYS
from tests.cli.test_check import use_env
from tests.clock import T0
from tests.fakes.graph_faults import Fault
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_shapes import CERT_PATH
from tests.fakes.graph_tokens import ade_token, vpp_token, without_id
from tests.harness import apns_bot


@pytest.fixture
def graph_only(graph_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    use_env(monkeypatch, tmp_path, graph_env)
    return graph_env


def status_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert apns_bot(["status", "--json", *argv]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_status_json_keeps_todays_keys_and_adds_the_tokens(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = ade_token(
        id="ade-2",
        name="Second MDM server",
        expires_at=T0 + timedelta(days=12),
        last_sync=None,
        sync_error_code=6002,
    )
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", [ade_token(), failing])
    document = status_json(capsys)
    assert tuple(document) == JSON_KEYS
    assert JSON_KEYS[:13] == (
        "tenant", "tenant_id", "certificate_present", "apple_id", "topic", "serial",
        "expires_at", "days_left", "state", "upload_status", "upload_failure_reason",
        "last_modified", "checked_at",
    )  # fmt: skip
    first, second = document["ade_tokens"]
    assert tuple(first) == TOKEN_KEYS == (
        "id", "name", "apple_id", "expires_at", "days_left", "state", "last_sync", "sync_error",
    )  # fmt: skip
    assert first["name"] == "Contoso ABM" and first["apple_id"] == "abm-admin@contoso.example"
    assert first["days_left"] == 241 and first["state"] is None  # ADE has no state
    assert first["expires_at"].endswith("+00:00") and first["sync_error"] is None
    assert second["days_left"] == 12 and second["last_sync"] is None
    assert second["sync_error"] == "6002"
    [vpp] = document["vpp_tokens"]
    assert vpp["name"] == "Contoso Apps and Books" and vpp["state"] == "valid"
    assert document["ade_tokens_error"] is None and document["vpp_tokens_error"] is None


def test_a_kind_that_cannot_be_read_is_null_with_its_error(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, "vpp")
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", [])
    document = status_json(capsys)
    assert document["vpp_tokens"] is None
    assert set(document["vpp_tokens_error"]) == {"code", "message"}
    assert document["vpp_tokens_error"]["code"] == "Forbidden"
    assert "DeviceManagementServiceConfig.Read.All" in document["vpp_tokens_error"]["message"]
    assert document["ade_tokens"] == [] and document["certificate_present"] is True


def test_without_push_in_apns_watch_the_certificate_keys_are_null(
    graph_only: dict[str, str],
    fake_graph: FakeGraph,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APNS_WATCH", "vpp")
    document = status_json(capsys)
    assert document["state"] == "not_watched" and document["watch"] == ["vpp"]
    assert document["certificate_present"] is None and document["expires_at"] is None
    assert document["ade_tokens"] is None and document["ade_tokens_error"] is None
    assert len(document["vpp_tokens"]) == 1


def test_status_text_lists_every_item_worst_first(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = vpp_token(display_name="Soon", expires_at=T0 + timedelta(days=5), state="invalid")
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [soon])
    assert apns_bot(["status"]) == 0
    out = capsys.readouterr().out
    listed = out.split("Watched items, worst first:\n", 1)[1].splitlines()
    assert listed[0].split()[:2] == ["CRITICAL", "Apps"] and '"Soon": 5 days left' in listed[0]
    assert "Intune reports the token as invalid" in listed[0]
    assert "Apple push certificate" in out and "Topic" in out  # the certificate's details follow


def test_check_exits_with_the_worst_item(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "ade", [ade_token(expires_at=T0 + timedelta(days=20))]
    )
    assert apns_bot(["check"]) == 1  # the certificate is fine; one ADE token is due
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("OK default: ")
    assert lines[1].startswith('RENEW default ade "Contoso ABM": 20 days left')
    assert lines[2].startswith('OK default vpp "Contoso Apps and Books"')

    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, "vpp")
    assert apns_bot(["check"]) == 2  # one kind could not be read
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("FAILED default vpp: Microsoft Graph refused") for line in lines)
    assert any(line.startswith("RENEW default ade") for line in lines)


def test_status_all_shows_each_tenants_most_urgent_item_and_its_kind(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID,
        "vpp",
        [vpp_token(display_name="Lapsing", expires_at=T0 - timedelta(days=3))],
    )
    assert apns_bot(["status", "--all", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["tenants"]
    assert (row["kind"], row["name"], row["state"], row["days_left"]) == (
        "vpp",
        "Lapsing",
        "expired",
        -3,
    )
    assert row["apple_id"] == "mdm-admin@contoso.example"  # the certificate's, as before
    assert row["owner"] == "apps-admin@contoso.example"  # the account that renews the token
    assert apns_bot(["status", "--all"]) == 0
    table = capsys.readouterr().out.splitlines()
    expiry = f"{T0 - timedelta(days=3):%Y-%m-%d}"
    assert table[1].split() == [
        "default", "expired", "-3", expiry, "vpp", "Lapsing", "apps-admin@contoso.example"
    ]  # fmt: skip


def test_status_all_names_the_certificates_apple_id_when_it_is_the_most_urgent(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    later = T0 + timedelta(days=400)  # after the certificate
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "vpp", [vpp_token(apple_id="", organization="Org", expires_at=later)]
    )
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", [])
    assert apns_bot(["status", "--all", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["tenants"]
    assert (row["kind"], row["owner"]) == ("push", "mdm-admin@contoso.example")
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "vpp", [vpp_token(apple_id="", organization="Org", expires_at=T0)]
    )
    assert apns_bot(["status", "--all", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["tenants"]
    assert (row["kind"], row["owner"]) == ("vpp", "Org")  # no Apple ID: the organisation


def test_a_certificate_that_cannot_be_read_still_shows_the_tokens(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_graph.inject("GET", CERT_PATH, *[Fault.forbidden()] * 8)
    assert apns_bot(["status", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert set(document["error"]) == {"code", "message"}
    assert [t["name"] for t in document["vpp_tokens"]] == ["Contoso Apps and Books"]
    assert len(document["ade_tokens"]) == 1 and document["vpp_tokens_error"] is None
    assert document["certificate_present"] is None and document["tenant"] is not None

    fake_graph.inject("GET", CERT_PATH, *[Fault.forbidden()] * 8)
    assert apns_bot(["status"]) == 2
    captured = capsys.readouterr()
    assert "Contoso Apps and Books" in captured.out
    assert "FAILED   Apple push certificate" in captured.out


def test_a_token_without_an_id_is_left_out_of_status_and_check(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = vpp_token(display_name="No id", expires_at=T0 + timedelta(days=2))
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [without_id(soon, ""), vpp_token()])
    document = status_json(capsys)
    assert [t["name"] for t in document["vpp_tokens"]] == ["Contoso Apps and Books"]
    assert document["vpp_tokens_error"] is None
    assert apns_bot(["check"]) == 0  # the id-less token due in 2 days is not an item
    out = capsys.readouterr().out
    assert 'OK default vpp "Contoso Apps and Books"' in out and "No id" not in out


def test_a_token_expired_an_hour_ago_is_expired_today_as_the_certificate_says(
    graph_only: dict[str, str], fake_graph: FakeGraph, capsys: pytest.CaptureFixture[str]
) -> None:
    lapsed = vpp_token(display_name="Lapsed", expires_at=T0 - timedelta(hours=1))
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [lapsed])
    assert status_json(capsys)["vpp_tokens"][0]["days_left"] == -1  # floored, as documented
    assert apns_bot(["status"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if '"Lapsed"' in x]
    assert '"Lapsed": expired today,' in line
    assert apns_bot(["check", "--no-post"]) == 1
    [line] = [x for x in capsys.readouterr().out.splitlines() if '"Lapsed"' in x]
    assert line.startswith('EXPIRED default vpp "Lapsed": expired today,')
