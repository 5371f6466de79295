"""``apns-bot inspect-token``: text and JSON, exit codes 0/1/2, offline and against the fake Graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import error_document
from bot.core.ade_token import MAX_TOKEN_FILE_BYTES
from bot.errors import CertificateError, FileCheckError, TokenFileError
from tests.cli.test_inspect_cert import cli_env
from tests.clock import days
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_tokens import DEFAULT_VPP_EXPIRY, ade_token, vpp_token
from tests.harness import apns_bot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

__all__ = ["cli_env"]  # a fixture, imported for pytest
ORG = "Contoso Ltd"  # the fake Graph's default VPP token
APPLE_ID = "abm-admin@contoso.example"  # and its ADE token's


@pytest.fixture
def graph_cli_env(
    cli_env: dict[str, str], graph_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for key, value in graph_env.items():
        monkeypatch.setenv(key, value)
    return {**cli_env, **graph_env}


def write(tmp_path: Path, data: bytes, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = apns_bot(["inspect-token", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def codes(document: dict[str, object]) -> list[str]:
    problems = document["problems"]
    assert isinstance(problems, list)
    return [p["code"] for p in problems]


# --- offline -------------------------------------------------------------------------------------


def test_a_good_vpp_token_summary_exits_0(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, vpp_token_file(ORG, days(365), token="TOP-SECRET"), "s.vpptoken")
    assert apns_bot(["inspect-token", path, "--current-org", ORG]) == 0
    out = capsys.readouterr().out
    assert "Apps and Books (VPP) token" in out and ORG in out and "(365 days)" in out
    assert "No problems found" in out and "TOP-SECRET" not in out


def test_vpp_json_has_the_facts_and_the_codes(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, vpp_token_file("Fabrikam", days(100)), "s.vpptoken")
    code, document = run_json(
        capsys, path, "--current-org", ORG, "--current-expiry", days(200).isoformat()
    )
    assert code == 1 and document["kind"] == "vpp" and document["blocking"] is True
    assert codes(document) == ["not_newer", "organization_mismatch"]
    assert document["vpp"]["organization"] == "Fabrikam"  # type: ignore[index]
    assert document["evaluated_at"] and document["file"] == path


def test_an_ade_token_is_matched_with_a_downloaded_key(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = write(tmp_path, intune_key(1).pem.encode(), "Intune_ADE.pem")
    good = write(tmp_path, ade_token_file(intune_key(1)), "good_smime.p7m")
    assert apns_bot(["inspect-token", good, "--public-key", key]) == 0
    out = capsys.readouterr().out
    assert "Automated Device Enrollment (ADE) token" in out and intune_key(1).serial in out

    wrong = write(tmp_path, ade_token_file(intune_key(2)), "wrong_smime.p7m")
    code, document = run_json(capsys, wrong, "--public-key", key)
    assert (code, codes(document)) == (1, ["wrong_public_key"])
    assert document["ade"]["recipients"][0]["serial"] == intune_key(2).serial  # type: ignore[index]


def test_without_a_key_an_ade_token_passes_with_a_warning(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ade_token_file(), "smime.p7m")
    args = ["--apple-id", "x@y.example", "--current-apple-id", APPLE_ID]
    code, document = run_json(capsys, path, *args)
    assert (code, codes(document)) == (0, ["public_key_not_checked", "apple_id_mismatch"])
    assert apns_bot(["inspect-token", path]) == 0
    assert "Result: OK with warnings" in capsys.readouterr().out


def test_a_public_key_file_too_large_or_unreadable_is_refused_with_exit_2(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = write(tmp_path, ade_token_file(intune_key(1)), "smime.p7m")
    huge = write(tmp_path, intune_key(1).pem.encode() + b"\n" * MAX_TOKEN_FILE_BYTES, "big.pem")
    code, document = run_json(capsys, token, "--public-key", huge)
    assert code == 2 and document["error"]["code"] == "public_key_unreadable"  # type: ignore[index]
    assert "KiB" in document["error"]["message"]  # type: ignore[index]
    garbage = write(tmp_path, b"not a certificate", "key.pem")
    assert apns_bot(["inspect-token", token, "--public-key", garbage]) == 2
    assert "could not be read as a certificate" in capsys.readouterr().err


def test_kind_can_be_forced(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ade_token_file(), "smime.p7m")
    code, document = run_json(capsys, path, "--kind", "vpp")
    assert (code, codes(document)) == (1, ["not_a_vpp_token"])


def test_a_file_of_neither_kind_exits_1(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, b"just some notes\n", "notes.txt")
    code, document = run_json(capsys, path)
    assert (code, codes(document), document["kind"]) == (1, ["not_a_token"], None)


def test_stdin_is_read(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO(vpp_token_file(ORG, days(30))))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, document = run_json(capsys, "-")
    assert code == 0 and document["kind"] == "vpp"


def test_an_unreadable_file_exits_2(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apns_bot(["inspect-token", str(tmp_path / "missing.p7m")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read")
    code, document = run_json(capsys, str(tmp_path / "missing.p7m"))
    assert code == 2 and document["error"]["code"] == "unreadable_file"  # type: ignore[index]


def test_mixing_graph_and_offline_options_is_a_usage_error(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, vpp_token_file(), "s.vpptoken")
    assert apns_bot(["inspect-token", path, "--against-graph", "--current-org", ORG]) == 2
    assert "drop the --public-key" in capsys.readouterr().err
    assert apns_bot(["inspect-token", path, "--token", "x"]) == 2
    assert "add it" in capsys.readouterr().err


# --- against Graph -------------------------------------------------------------------------------


def test_against_graph_a_vpp_token_is_compared_with_the_tenants(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    renewal = write(tmp_path, vpp_token_file(ORG, DEFAULT_VPP_EXPIRY + (days(365) - days(0))), "a")
    code, document = run_json(capsys, renewal, "--against-graph")
    assert (code, codes(document)) == (0, [])
    assert document["current"]["organization"] == ORG  # type: ignore[index]

    stale = write(tmp_path, vpp_token_file(ORG, DEFAULT_VPP_EXPIRY), "b")
    assert run_json(capsys, stale, "--against-graph")[1]["problems"][0]["code"] == "not_newer"  # type: ignore[index]
    assert [r.method for r in fake_graph.graph_requests()] == ["GET", "GET"]  # reads only


def test_against_graph_finds_a_duplicate_among_several_vpp_tokens(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = graph_cli_env["AZURE_TENANT_ID"]
    fake_graph.apple_tokens.set(
        tenant,
        "vpp",
        [
            vpp_token(id="vpp-hq", display_name="Contoso HQ", expires_at=days(20)),
            vpp_token(id="vpp-berlin", display_name="Contoso Berlin", expires_at=days(300)),
        ],
    )
    berlin_file = write(tmp_path, vpp_token_file(ORG, days(300)), "berlin.vpptoken")
    assert apns_bot(["inspect-token", berlin_file, "--against-graph"]) == 2
    err = capsys.readouterr().err
    assert "--token" in err and "Contoso HQ (vpp-hq)" in err and "Contoso Berlin" in err

    code, document = run_json(capsys, berlin_file, "--against-graph", "--token", "contoso hq")
    assert (code, codes(document)) == (1, ["duplicate_token"])


def test_against_graph_an_ade_token_is_matched_with_intunes_current_key(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token_id = ade_token()["id"]
    good = write(tmp_path, ade_token_file(intune_key(1)), "good.p7m")
    code, document = run_json(capsys, good, "--against-graph", "--apple-id", APPLE_ID)
    assert (code, codes(document)) == (0, [])
    assert document["public_key"]["serial"] == intune_key(1).serial  # type: ignore[index]

    fake_graph.token_writes.set_key(graph_cli_env["AZURE_TENANT_ID"], token_id, intune_key(5))
    code, document = run_json(capsys, good, "--against-graph", "--token", token_id)
    assert (code, codes(document)) == (1, ["wrong_public_key"])
    assert fake_graph.requests_to("/uploadDepToken") == []  # never uploads


def test_against_graph_failures_exit_2_without_a_traceback(
    graph_cli_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_graph.inject("GET", "/getEncryptionPublicKey()", Fault.forbidden())
    path = write(tmp_path, ade_token_file(), "t.p7m")
    assert apns_bot(["inspect-token", path, "--against-graph"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Microsoft Graph refused") and "Traceback" not in err
    fake_graph.apple_tokens.set(graph_cli_env["AZURE_TENANT_ID"], "ade", [])
    code, document = run_json(capsys, path, "--against-graph")
    assert code == 2 and "nothing to renew" in document["error"]["message"]  # type: ignore[index]


def test_token_and_certificate_file_errors_share_a_base_not_a_lineage() -> None:
    token = TokenFileError("not_a_token", "neither kind")
    certificate = CertificateError("not_a_certificate", "no certificate")
    assert isinstance(token, FileCheckError) and isinstance(certificate, FileCheckError)
    assert not isinstance(token, CertificateError)  # a token is no push certificate
    for error in (token, certificate):
        assert error_document(error)["error"]["code"] == error.code


def test_options_of_the_other_kind_are_a_usage_error(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vpp = write(tmp_path, vpp_token_file(), "s.vpptoken")
    assert apns_bot(["inspect-token", vpp, "--current-apple-id", APPLE_ID]) == 2
    assert (
        "--current-apple-id is for Automated Device Enrollment (ADE) tokens"
        in capsys.readouterr().err
    )
    ade = write(tmp_path, ade_token_file(), "smime.p7m")
    assert apns_bot(["inspect-token", ade, "--current-org", ORG]) == 2
    assert "--current-org is for Apps and Books (VPP) tokens" in capsys.readouterr().err
    code, document = run_json(
        capsys, ade, "--kind", "ade", "--current-expiry", f"{days(30):%Y-%m-%d}"
    )
    assert code == 2 and document["error"]["code"] == "usage"  # type: ignore[index]
