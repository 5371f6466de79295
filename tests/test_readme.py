"""The README a new user starts from: set-up first, short, every command and linked page present."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.test_cli_basics import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINES = README.splitlines()


def test_it_is_short_and_starts_with_set_up() -> None:
    assert len(LINES) <= 300
    quick_start = LINES.index("## Quick start")
    assert quick_start < 80
    first_section = next(i for i, line in enumerate(LINES) if line.startswith("## "))
    assert first_section == quick_start
    assert "make run" in README and "make test" in README


def test_every_command_and_the_slack_help_are_documented() -> None:
    for name in COMMANDS:
        assert f"`apns-bot {name}" in README, name
    for words in (
        "/apns help",
        "HTTPS_PROXY",
        "SSL_CERT_FILE",
        "APNS_NETWORK_TIMEOUT",
        "--offline",
    ):
        assert words in README, words


def test_every_linked_page_exists() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
