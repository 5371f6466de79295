"""manifest.yml against the code: the command, events, interactivity and scopes the bot uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.slack.ids import BOT_SCOPES, COMMAND, EVENTS
from bot.slack.views.status import HELP_LINES

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_slash_command_is_the_one_the_bot_listens_to() -> None:
    [command] = manifest()["features"]["slash_commands"]
    assert command["command"] == COMMAND
    hinted = {w.strip() for w in command["usage_hint"].strip("[]").split("|")}
    verbs = {line.split()[1] for line, _ in HELP_LINES}
    assert hinted == verbs


def test_events_interactivity_home_and_socket_mode() -> None:
    m = manifest()
    assert tuple(m["settings"]["event_subscriptions"]["bot_events"]) == EVENTS
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["features"]["app_home"]["home_tab_enabled"] is True


def test_the_bot_scopes_are_exactly_what_the_code_needs() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    for needed in (
        "commands",
        "chat:write",
        "files:read",
        "files:write",
        "users:read",
        "usergroups:read",
    ):
        assert needed in BOT_SCOPES
