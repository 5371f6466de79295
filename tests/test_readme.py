"""The README a new user starts from: set-up first, short, every command and linked page present."""

from __future__ import annotations

import re
from pathlib import Path

from bot.adapters.metrics import PrometheusMetrics
from bot.core.tokens import TokenRead
from tests.adapters.test_metrics import (
    ADE,
    PUSH_NAME,
    VPP,
    certificate,
    checked,
    samples,
    token,
)
from tests.cli.test_cli_basics import COMMANDS
from tests.clock import T0, days

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


def test_the_example_alert_fires_for_an_item_of_any_kind_within_14_days() -> None:
    """The README's alert rule, evaluated on what the bot exports: its metric and labels exist,
    and ``expiry - time() < 14 days`` picks exactly the items inside 14 days, of every kind."""
    block = README.split("- alert: AppleCredentialExpiresSoon", 1)[1].split("```", 1)[0]
    expr = re.search(r"expr: (\w+) - time\(\) < (\d+) \* 86400\n", block)
    assert expr is not None, "the README's alert has no `<metric> - time() < N * 86400` rule"
    metric, days_ahead = expr.group(1), int(expr.group(2))
    assert days_ahead == 14
    for used in re.findall(r"\$labels\.(\w+)", block):
        assert used in {"tenant", "kind", "name"}, f"the summary uses a label never set: {used}"
    metrics = PrometheusMetrics()
    ade = TokenRead(ADE, (token(ADE, "ade-1", "Due soon", days(13)),))
    vpp = TokenRead(
        VPP, (token(VPP, "vpp-1", "Fine", days(15)), token(VPP, "v2", "Gone", days(-2)))
    )
    metrics.observe(checked(cert=certificate(days(10)), tokens=(ade, vpp)))
    firing = {
        (labels["kind"], labels["name"])
        for (name, key), value in samples(metrics).items()
        if name == metric and value - T0.timestamp() < days_ahead * 86400
        for labels in [dict(key)]
    }
    assert firing == {("push", PUSH_NAME), ("ade", "Due soon"), ("vpp", "Gone")}
