"""``apns-bot inspect-cert --against-graph``: the current certificate comes from the fake Graph."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.certgen import make_push_cert
from tests.cli.test_inspect_cert import cli_env, codes, run_json, write
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.harness import apns_bot

__all__ = ["cli_env"]  # a fixture, imported for pytest
GRAPH_TOPIC_UUID = "2f42b322-d7c9-4734-8e2e-eeadadd36f20"  # the fake Graph's default entity
GRAPH_APPLE_ID = "mdm-admin@contoso.example"


@pytest.fixture
def graph_cli_env(
    cli_env: dict[str, str], graph_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for key, value in graph_env.items():
        monkeypatch.setenv(key, value)
    return {**cli_env, **graph_env}


def test_against_graph_compares_with_the_tenant(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    renewal = make_push_cert(
        topic_uuid=GRAPH_TOPIC_UUID, not_after=DEFAULT_EXPIRY + timedelta(days=365)
    )
    args = ["--against-graph", "--apple-id", GRAPH_APPLE_ID]
    code, document = run_json(capsys, write(tmp_path, renewal.pem), *args)
    assert (code, codes(document)) == (0, [])
    assert len(fake_graph.graph_requests()) == 1

    code, document = run_json(capsys, write(tmp_path, make_push_cert().pem), *args)
    assert (code, codes(document)) == (1, ["topic_mismatch"])
    assert GRAPH_APPLE_ID in document["problems"][0]["message"]  # type: ignore[index]
    assert f"com.apple.mgmt.External.{GRAPH_TOPIC_UUID}" in document["problems"][0]["message"]  # type: ignore[index]


def test_against_graph_failure_exits_2(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_graph.inject("GET", "applePushNotificationCertificate", Fault.forbidden())
    assert apns_bot(["inspect-cert", write(tmp_path, make_push_cert().pem), "--against-graph"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Microsoft Graph refused") and "Traceback" not in err
    assert "DeviceManagementServiceConfig" in err
