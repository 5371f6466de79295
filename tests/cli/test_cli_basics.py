"""The first hour with the command: help, --env-file, placeholders, errors that say where to look."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.cli import PROXY_KEYS, build_parser
from bot.cli.commands import MODULES
from bot.cli.logs import LibraryChatter
from bot.config.env import EXAMPLE_NOTE
from tests.harness import UseEnv, apns_bot

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    "run",
    "status",
    "check",
    "doctor",
    "inspect-cert",
    "inspect-token",
    "keygen",
    "rekey",
    "migrate-store",
]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("argv", [[], ["help"]])
def test_bare_command_and_help_show_the_overview(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert apns_bot(argv) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out
    assert "examples:" in out


def test_help_command_shows_one_commands_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert apns_bot(["help", "status"]) == 0
    out = capsys.readouterr().out
    assert "usage: apns-bot status" in out and "--progress" in out and "--env-file" in out
    assert apns_bot(["help", "nonsense"]) == 2
    assert "no command named 'nonsense'" in capsys.readouterr().err


def test_every_command_has_a_description_and_an_example() -> None:
    parsers = subcommands()
    assert len(MODULES) == len(COMMANDS)
    for name in COMMANDS:
        parser = parsers[name]
        assert parser.description and parser.description.strip(), name
        assert parser.epilog and f"apns-bot {name}" in parser.epilog, name


def test_env_file_works_before_and_after_the_command(
    use_env: UseEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    settings = tmp_path / "team.env"
    settings.write_text("AZURE_TENANT_ID=not a tenant\n")
    for argv in (["--env-file", str(settings), "status"], ["status", "--env-file", str(settings)]):
        assert apns_bot(argv) == 2
        err = capsys.readouterr().err
        assert "AZURE_TENANT_ID='not a tenant'" in err  # the file was read
        assert f"Fix these in {settings}" in err


def test_a_proxy_in_the_env_file_reaches_the_http_libraries(
    use_env: UseEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """httpx, requests and urllib read proxies from the process environment only: a proxy in
    .env is put there, unless the shell set one (the shell wins, as for every setting)."""
    use_env({})
    for key in PROXY_KEYS:  # setenv first: monkeypatch then restores each key, even an unset one
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    monkeypatch.setenv("no_proxy", "shell.example")
    (tmp_path / ".env").write_text(
        "HTTPS_PROXY=http://proxy.example:3128\nno_proxy=file.example\nAZURE_TENANT_ID=x\n"
    )
    assert apns_bot(["status"]) == 2  # settings are incomplete; the proxy is in place anyway
    assert os.environ["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert os.environ["no_proxy"] == "shell.example"
    assert urllib.request.getproxies()["https"] == "http://proxy.example:3128"


def test_a_missing_env_file_is_named(
    use_env: UseEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    assert apns_bot(["doctor", "--env-file", "nowhere.env"]) == 2
    err = capsys.readouterr().err
    assert "--env-file nowhere.env: no such file" in err
    assert "is missing" not in err  # not a list of every setting


def test_without_a_dot_env_the_error_says_none_was_found(
    use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    assert apns_bot(["status"]) == 2
    err = capsys.readouterr().err
    assert "AZURE_TENANT_ID is missing" in err and "No .env was found" in err


def test_json_commands_print_settings_errors_as_json(
    use_env: UseEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env({})
    assert apns_bot(["status", "--json"]) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["code"] == "config" and "AZURE_TENANT_ID is missing" in error["message"]
    assert captured.err == ""


def test_an_unchanged_env_example_is_refused_by_name_before_any_network_call(
    use_env: UseEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v}
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    use_env({"AZURE_CLIENT_SECRET": "a-secret-someone-filled-in"})
    # the default hosts are never contacted: the error comes from the settings
    assert apns_bot(["doctor"]) == 1
    out = capsys.readouterr().out
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "APNS_CHANNEL", "APNS_APPROVERS"):
        assert any(
            line.startswith("FAIL") and key in line and EXAMPLE_NOTE in line
            for line in out.splitlines()
        ), key
    for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID"):
        assert f"{key}={example[key]} {EXAMPLE_NOTE}" in out
    assert "PASS  slack" not in out and "entra sign-in" in out and "SKIP" in out


def test_a_usage_error_with_json_is_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        apns_bot(["inspect-cert", "cert.pem", "--json", "--at", "next tuesday"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["code"] == "usage" and "is not an ISO 8601 date" in error["message"]
    assert "usage: apns-bot inspect-cert" in captured.err


def record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "a line", None, None)


@pytest.mark.parametrize(
    ("name", "level", "shown_at_info"),
    [
        ("bot.usecases.watch", logging.INFO, True),
        ("bot.adapters.apple_ca", logging.WARNING, True),
        ("slack_sdk.web.base_client", logging.INFO, False),  # "A retry handler found"
        ("slack_sdk.web.base_client", logging.ERROR, False),  # the bot says it in one line
        ("urllib3.connectionpool", logging.WARNING, False),  # "Retrying (Retry(total=0...))"
        ("msal.application", logging.WARNING, False),
        ("httpx", logging.INFO, False),
        ("slack_bolt.App", logging.ERROR, True),  # a listener crashed: not chatter
        ("slack_bolt.App", logging.WARNING, True),  # "Unhandled request": not chatter either
        ("slack_sdk.socket_mode.builtin.client", logging.WARNING, True),  # a refused handshake
        ("slack_sdk.http_retry.handler", logging.INFO, False),
        ("slack_sdk.socket_mode.builtin.client", logging.ERROR, True),
        ("urllib3.connectionpool", logging.CRITICAL, True),
    ],
)
def test_library_chatter_is_debug(name: str, level: int, shown_at_info: bool) -> None:
    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the loggers' caches
        assert LibraryChatter().filter(record(name, level)) is shown_at_info
        root.setLevel(logging.DEBUG)
        assert LibraryChatter().filter(record(name, level)) is True
    finally:
        root.setLevel(before)


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    """`apns-bot help | head -1`: the pipe closes under the command, which ends quietly."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "help"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    with proc.stderr:
        errors = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in errors and "BrokenPipeError" not in errors
