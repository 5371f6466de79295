"""Building blocks for delegated sign-in tests: settings, the sign-in dance, what leaked where."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.sealing import generate_key
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_TENANT_ID, FakeGraph
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import LEAD_1, LEAD_2, REQUESTER, RunningBot

KEY = generate_key()
OTHER_KEY = generate_key()
DELEGATED = {"AZURE_CLIENT_SECRET": "", "APNS_TOKEN_KEY": KEY}  # no secret: delegated by default
EMAILS = {
    LEAD_1: "lead.one@contoso.example",
    LEAD_2: "lead.two@contoso.example",
    REQUESTER: "requester@contoso.example",
}
_CODE = re.compile(r"enter the code `([A-Z0-9]+)`")


@pytest.fixture
def delegated_fakes(fake_graph: FakeGraph, fake_slack: FakeSlack) -> None:
    """The app allows public client flows; the Slack users have their e-mail addresses."""
    fake_graph.register_app(FAKE_TENANT_ID, FAKE_CLIENT_ID, public_client=True)
    for user, email in EMAILS.items():
        fake_slack.add_user(user, email)


def start_delegated(start_bot: Callable[..., RunningBot], **overrides: str) -> RunningBot:
    return start_bot(**{**DELEGATED, **overrides})


def user_code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, f"no user code in {text!r}"
    return match.group(1)


def prompt_for(fake_slack: FakeSlack, after: int = 0) -> Call:
    """The ephemeral answer (response_url) carrying a sign-in code, after the first ``after``."""
    return fake_slack.wait_for(
        "response_url",
        lambda c: (
            "enter the code" in c.params.get("text", "") and fake_slack.calls.index(c) >= after
        ),
    )


def poll(bot: RunningBot, seconds: float = 6.0) -> int:
    """Let the clock reach the next poll, poll what is due, wait for the polls to finish."""
    bot.clock.advance(seconds=seconds)
    assert bot.deps.signins is not None
    polls = bot.deps.signins.poll_due()
    for submitted in polls:
        submitted.result(timeout=10)  # re-raises what a poll raised
    bot.wait_idle()
    return len(polls)


def sign_in(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, user: str = LEAD_2
) -> str:
    """``/apns signin`` as ``user``, completed as their own account; returns the user code."""
    before = len(fake_slack.calls)
    bot.slack.command("signin", user=user)
    code = user_code_in(prompt_for(fake_slack, before).params["text"])
    fake_graph.delegated.sign_in(code, EMAILS[user])
    poll(bot)
    assert bot.deps.store.get_signin("default", user) is not None
    return code


def stored_bytes(bot: RunningBot) -> bytes:
    db = bot.settings.db_path
    return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))


def slack_text(fake_slack: FakeSlack) -> str:
    return json.dumps([c.params for c in fake_slack.calls])


def secrets_issued(fake_graph: FakeGraph) -> list[str]:
    """Every access token, refresh token, device code and id_token the fake handed out."""
    delegated = fake_graph.delegated
    found = list(fake_graph.issued_tokens()) + list(delegated.refresh_tokens) + delegated.id_tokens
    found += [s.device_code for s in delegated.sessions.values()]
    for request in fake_graph.token_requests():
        if request.form.get("refresh_token"):
            found.append(request.form["refresh_token"])
    return found


def db_path_of(bot: RunningBot) -> Path:
    return bot.settings.db_path
