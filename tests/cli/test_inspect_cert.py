"""``apns-bot inspect-cert``: summary and JSON, exit codes 0/1/2, in-process and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters import apple_ca
from bot.cli import inspect_cert
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_CA_FILES,
    REAL_PUSH_CERT,
    GeneratedCert,
    ca_dir,
    make_push_cert,
    needs_apple_fixtures,
)
from tests.clock import T0, real_now
from tests.fakes.dead_host import DeadHost
from tests.harness import apns_bot

ROOT = Path(__file__).resolve().parents[2]
JSON_KEYS = {"topic", "common_name", "serial", "not_before", "not_after", "issuer", "sha256"}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """``apns_bot()`` reads the process environment: make it a clean one with the test CA trusted."""
    prefixes = ("AZURE_", "GRAPH_", "APNS_", "SLACK_", "APPLE_", "SSL_CERT", "REQUESTS_CA")
    for key in [k for k in os.environ if k.startswith(prefixes)]:
        monkeypatch.delenv(key)
    env = {
        "APPLE_CA_DIR": str(ca_dir(tmp_path / "apple-ca")),
        "APNS_DB_PATH": str(tmp_path / "data" / "apns-bot.sqlite3"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    return env


def write(tmp_path: Path, data: bytes, name: str = "cert.pem") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = apns_bot(["inspect-cert", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def codes(document: dict[str, object]) -> list[str]:
    problems = document["problems"]
    assert isinstance(problems, list)
    return [p["code"] for p in problems]


def test_good_certificate_summary_exits_0(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = make_push_cert()
    assert apns_bot(["inspect-cert", write(tmp_path, cert.pem)]) == 0
    out = capsys.readouterr().out
    assert cert.topic is not None and cert.topic in out
    assert cert.serial in out and "RSA 2048" in out
    assert "verified: APSP:" in out and "-> Apple Root CA" in out
    assert "No problems found" in out


def test_json_has_the_public_keys(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = make_push_cert()
    code, document = run_json(capsys, write(tmp_path, cert.der, "cert.cer"))
    assert code == 0
    assert JSON_KEYS | {"problems"} <= set(document)
    assert document["topic"] == cert.topic and document["serial"] == cert.serial
    assert document["common_name"] == f"APSP:{cert.uuid}"
    assert document["not_after"] == cert.not_after.isoformat().replace("+00:00", "Z")
    assert document["chain_verified"] is True and document["problems"] == []


def renewal_args(current: GeneratedCert) -> list[str]:
    return [
        "--current-topic",
        current.topic or "",
        "--current-apple-id",
        "admin@example.com",
        "--current-expiry",
        current.not_after.isoformat(),
    ]


def test_checks_against_the_current_certificate(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = make_push_cert(not_before=T0 - timedelta(days=350))
    renewal = make_push_cert(topic_uuid=current.uuid)
    args = renewal_args(current)
    code, document = run_json(
        capsys, write(tmp_path, renewal.pem), *args, "--apple-id", "ADMIN@example.com"
    )
    assert (code, codes(document)) == (0, [])

    code, document = run_json(capsys, write(tmp_path, make_push_cert().pem), *args)
    assert (code, codes(document)) == (1, ["topic_mismatch"])
    problem = document["problems"][0]  # type: ignore[index]
    assert problem["severity"] == "error" and "admin@example.com" in problem["message"]

    code, document = run_json(
        capsys, write(tmp_path, renewal.pem), *args, "--apple-id", "other@example.com"
    )
    assert (code, codes(document)) == (1, ["apple_id_mismatch"])

    code, document = run_json(capsys, write(tmp_path, current.pem), *args)
    assert (code, codes(document)) == (1, ["not_newer", "expires_soon"])


def test_warnings_only_exit_0(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APPLE_CA_DIR")
    cert = make_push_cert()
    assert apns_bot(["inspect-cert", write(tmp_path, cert.pem), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "WARNING chain_not_verified" in out and "Result: OK with warnings" in out


def test_refused_file_exits_1_without_facts(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = make_push_cert()
    code, document = run_json(capsys, write(tmp_path, cert.with_key()))
    assert (code, codes(document)) == (1, ["private_key_present"])
    assert document["topic"] is None and document["blocking"] is True
    key_line = cert.key_pem().splitlines()[2].decode()
    assert key_line not in json.dumps(document)


def test_stdin(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = make_push_cert()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(cert.pem_crlf)))
    code, document = run_json(capsys, "-")
    assert code == 0 and document["topic"] == cert.topic and document["file"] == "-"


def test_at_evaluates_at_another_time(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = make_push_cert()
    later = (cert.not_after + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, document = run_json(capsys, write(tmp_path, cert.pem), "--at", later)
    assert (code, codes(document)) == (1, ["expired"])
    assert document["evaluated_at"] == later


@pytest.mark.parametrize(
    ("argv", "stderr"),
    [
        (["missing.pem"], "cannot read missing.pem"),
        (["."], "cannot read ."),
        (["cert.pem", "--against-graph", "--current-topic", "x"], "drop the --current-*"),
    ],
)
def test_unreadable_files_and_conflicting_options_exit_2(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stderr: str,
) -> None:
    write(tmp_path, make_push_cert().pem)
    assert apns_bot(["inspect-cert", *argv]) == 2
    err = capsys.readouterr().err
    assert stderr in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--at", "--current-expiry"])
def test_bad_dates_are_usage_errors(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], option: str
) -> None:
    with pytest.raises(SystemExit) as info:
        apns_bot(["inspect-cert", "cert.pem", option, "next tuesday"])
    assert info.value.code == 2
    assert "is not an ISO 8601 date" in capsys.readouterr().err


def test_bad_configuration_exits_2(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPLE_CA_DIR", str(tmp_path / "nowhere"))
    assert apns_bot(["inspect-cert", write(tmp_path, make_push_cert().pem)]) == 2
    assert "APPLE_CA_DIR" in capsys.readouterr().err


# --- the real certificate and a subprocess -------------------------------------------------------


@needs_apple_fixtures
def test_real_certificate(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_ca = tmp_path / "real-ca"
    real_ca.mkdir()
    for name in REAL_CA_FILES:
        shutil.copyfile(APPLE_FIXTURES / name, real_ca / name)
    monkeypatch.setenv("APPLE_CA_DIR", str(real_ca))
    fixture = str(APPLE_FIXTURES / REAL_PUSH_CERT)
    assert apns_bot(["inspect-cert", fixture]) == 1
    out = capsys.readouterr().out
    assert "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9" in out
    assert "734DF9C0BB2703FD" in out and "ERROR   expired:" in out
    code, document = run_json(capsys, fixture, "--at", "2021-05-03")
    assert (code, codes(document), document["chain_verified"]) == (0, [], True)


def subprocess_env(tmp_path: Path, apple_ca_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "APPLE_CA_DIR": str(apple_ca_dir),
        "APNS_DB_PATH": str(tmp_path / "db.sqlite3"),
    }


def test_as_a_subprocess(tmp_path: Path) -> None:
    # the command runs as its own process and reads the real clock: the certificate is valid then
    cert = make_push_cert(not_before=real_now() - timedelta(days=1))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "inspect-cert", write(tmp_path, cert.pem_crlf), "--json"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, ca_dir(tmp_path / "ca")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["topic"] == cert.topic and document["problems"] == []

    done = subprocess.run(
        [sys.executable, "-m", "bot", "inspect-cert", str(tmp_path / "nope.pem")],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, ca_dir(tmp_path / "ca")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot read")


def test_without_apple_ca_dir_or_network_it_answers_and_says_how_to_verify_offline(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every download goes to a proxy that never answers: one quick try, then the answer."""
    monkeypatch.delenv("APPLE_CA_DIR")
    with DeadHost() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.netloc}")
        monkeypatch.setattr(inspect_cert, "QUICK_DOWNLOAD_SECONDS", 0.2)
        code, document = run_json(capsys, write(tmp_path, make_push_cert().pem))
    assert code == 0 and codes(document) == ["chain_not_verified"]
    assert "APPLE_CA_DIR" in str(document["verify_offline"])


def test_offline_never_downloads_and_the_summary_says_how_to_verify(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APPLE_CA_DIR")

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("--offline must not download")

    monkeypatch.setattr(apple_ca, "_download", no_download)
    assert apns_bot(["inspect-cert", write(tmp_path, make_push_cert().pem), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "Chain not verified. To verify it offline" in out and "APPLE_CA_DIR" in out


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["missing.pem"], "unreadable_file"),
        (["cert.pem", "--against-graph", "--current-topic", "x"], "usage"),
    ],
)
def test_json_errors_are_json_on_stdout_with_exit_2(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: str,
) -> None:
    write(tmp_path, make_push_cert().pem)
    assert apns_bot(["inspect-cert", *argv, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == code and error["message"]
