"""Delegated sign-in end to end: the approving lead signs in from Slack and the PATCH is theirs.

Signed requests go to the bot; the fake Entra ID runs the device code flow (a test "enters the
code" as some account), the fake Graph records whose token each call carried, and the SQLite file
and the captured logs are read to prove nothing secret is kept or written in the clear.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.cli.run import start_signin_polling
from bot.core.requests import Status
from bot.slack.ids import Action
from tests.clock import T0, MovableClock
from tests.delegated_fixtures import (
    EMAILS,
    poll,
    prompt_for,
    secrets_issued,
    sign_in,
    slack_text,
    start_delegated,
    stored_bytes,
    user_code_in,
)
from tests.delegated_fixtures import delegated_fakes as delegated_fakes  # fixture
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import Call, FakeSlack
from tests.flows.test_renewal_flow import APPLE_ID, CERT_PATH, patches, pending_request, renewal
from tests.harness import CHANNEL, LEAD_1, LEAD_2, RunningBot

pytestmark = pytest.mark.usefixtures("delegated_fakes")


def renewed(fake_slack: FakeSlack) -> None:
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))


def approve(bot: RunningBot, fake_slack: FakeSlack, request_id: str) -> Call:
    """LEAD_1 approves; the ephemeral answer that carries their sign-in code."""
    before = len(fake_slack.calls)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    return prompt_for(fake_slack, before)


def approve_and_get_code(bot: RunningBot, fake_slack: FakeSlack, request_id: str) -> str:
    return user_code_in(approve(bot, fake_slack, request_id).params["text"])


def test_a_delegated_renewal_signs_the_approver_in_and_patches_as_them(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # LOG_LEVEL=DEBUG must not leak anything either
    bot = start_delegated(start_bot)
    # someone must be signed in for the pre-flight read of the current certificate
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    cert = renewal()
    request_id = pending_request(bot, fake_slack, cert)
    [read] = fake_graph.requests_to(CERT_PATH, "GET")[-1:]
    assert fake_graph.token_user(read) == EMAILS[LEAD_2]

    prompt = approve(bot, fake_slack, request_id).params
    code = user_code_in(prompt["text"])
    session = fake_graph.delegated.session(code)
    assert (
        "https://microsoft.com/devicelogin" in prompt["text"] and EMAILS[LEAD_1] in prompt["text"]
    )
    assert prompt["response_type"] == "ephemeral"
    assert session.device_code not in slack_text(fake_slack)
    waiting = fake_slack.wait_for(
        "chat.update", lambda c: f"Waiting for <@{LEAD_1}> to sign in" in json.dumps(c.params)
    )
    assert Action.APPROVE.value not in json.dumps(waiting.params["blocks"])
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPROVED and patches(fake_graph) == []

    assert poll(bot) == 1  # pending: one poll, nothing else happens
    assert len(session.polls) == 1 and patches(fake_graph) == []
    assert poll(bot, seconds=1) == 0  # not due again before the interval has passed

    fake_graph.delegated.sign_in(code, EMAILS[LEAD_1].upper())  # case does not matter
    poll(bot)
    renewed(fake_slack)
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == EMAILS[LEAD_1].upper()
    assert patch.json == {"appleIdentifier": APPLE_ID, "certificate": cert.pem.decode()}
    done = bot.deps.store.get_request(request_id)
    assert done is not None and done.status is Status.APPLIED
    note = fake_slack.wait_for(
        "chat.postEphemeral", lambda c: "Uploading the certificate now" in c.params["text"]
    )
    assert note.params["user"] == LEAD_1 and note.params["channel"] == CHANNEL
    events = [e.event for e in bot.deps.store.history("default")]
    assert {"signin_started", "signed_in", "applying", "applied"} <= set(events)
    applying = next(e for e in bot.deps.store.history("default") if e.event == "applying")
    assert applying.actor == LEAD_1

    # nothing secret in the database file or the logs, and no certificate body either
    stored, logged = stored_bytes(bot), caplog.text
    body = cert.pem.decode().splitlines()[1]
    for secret in [*secrets_issued(fake_graph), body]:
        assert secret.encode() not in stored
        assert secret not in logged
    assert b"-----BEGIN" not in stored


def test_an_account_that_is_not_the_approvers_own_is_refused_and_audited(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(bot, fake_slack)
    code = approve_and_get_code(bot, fake_slack, request_id)
    fake_graph.delegated.sign_in(code, "eve&co@contoso.example")  # an & that must show as typed
    poll(bot)

    told = fake_slack.wait_for(
        "chat.postEphemeral", lambda c: "eve&amp;co@contoso.example" in c.params["text"]
    )
    assert told.params["user"] == LEAD_1 and EMAILS[LEAD_1] in told.params["text"]
    assert patches(fake_graph) == []
    assert bot.deps.store.get_signin("default", LEAD_1) is None
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "signin_refused"
    shown = fake_slack.wait_for(
        "chat.update", lambda c: "not their own account" in json.dumps(c.params)
    )
    blocks = json.dumps(shown.params["blocks"])
    assert "Sign in and upload" in blocks
    # escaped exactly once: the mention stays live, the & shows as one &
    assert f"<@{LEAD_1}> signed in to Microsoft as eve&amp;co@contoso.example" in blocks
    assert "&lt;@" not in blocks and "&amp;amp;" not in blocks
    [refused] = [e for e in bot.deps.store.history("default") if e.event == "signin_refused"]
    assert refused.actor == LEAD_1 and refused.detail["username"] == "eve&co@contoso.example"

    # the approver tries again with their own account: signed in, uploaded as them
    before = len(fake_slack.calls)
    bot.slack.click(Action.RETRY, request_id, LEAD_1)
    code = user_code_in(prompt_for(fake_slack, before).params["text"])
    fake_graph.delegated.sign_in(code, EMAILS[LEAD_1])
    poll(bot)
    renewed(fake_slack)
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == EMAILS[LEAD_1]


def test_the_identity_check_can_be_switched_off(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot, APNS_SKIP_IDENTITY_MATCH="true")
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(bot, fake_slack)
    code = approve_and_get_code(bot, fake_slack, request_id)
    fake_graph.delegated.sign_in(code, "admin-lead1@contoso.onmicrosoft.example")
    poll(bot)
    renewed(fake_slack)
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == "admin-lead1@contoso.onmicrosoft.example"


def test_a_restart_while_polling_resumes_the_sign_in_and_uploads(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_delegated(start_bot)
    sign_in(first, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(first, fake_slack)
    code = approve_and_get_code(first, fake_slack, request_id)
    assert poll(first) == 1  # ... then the process stops

    second = start_delegated(start_bot)  # same database file
    second.clock.advance(minutes=11)  # past the lease: nobody is still working on it
    second.deps.applying.reconcile()
    second.wait_idle()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPROVED  # still waiting, not failed
    assert len(fake_graph.delegated.sessions) == 2  # the sign-in and the approval: no new code
    fake_graph.delegated.sign_in(code, EMAILS[LEAD_1])
    assert poll(second) == 1
    renewed(fake_slack)
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == EMAILS[LEAD_1]


def test_an_approved_request_whose_approver_never_got_a_code_fails_at_start_up(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_delegated(start_bot)
    sign_in(first, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(first, fake_slack)
    store, now = first.deps.store, first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)

    second = start_delegated(start_bot)
    second.clock.advance(minutes=11)  # past the lease: nobody is still working on it
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "signin_required"
    assert patches(fake_graph) == []


def test_an_approver_already_signed_in_uploads_at_once(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_1)
    request_id = pending_request(bot, fake_slack)
    sessions = len(fake_graph.delegated.sessions)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed(fake_slack)
    assert len(fake_graph.delegated.sessions) == sessions  # no second code
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == EMAILS[LEAD_1]


def test_an_expired_access_token_is_refreshed_with_the_refresh_token(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    saved = bot.deps.store.get_signin("default", LEAD_2)
    assert saved is not None
    fake_graph.set_token_lifetime(120)  # tokens issued from now on live two minutes
    fake_graph.revoke_tokens()  # and the one the bot holds has expired

    def refreshes() -> int:
        grants = [r.form.get("grant_type") for r in fake_graph.token_requests()]
        return grants.count("refresh_token")

    def reads() -> int:
        return len(fake_graph.requests_to(CERT_PATH, "GET"))

    read = bot.deps.graph(bot.settings.default_tenant)
    assert read.get_certificate().exists  # 401, then a refreshed token
    assert (refreshes(), reads()) == (1, 2)
    refreshed = bot.deps.store.get_signin("default", LEAD_2)
    assert refreshed is not None and refreshed.sealed_cache != saved.sealed_cache
    assert read.get_certificate().exists  # MSAL refreshes a token this close to expiry first
    assert (refreshes(), reads()) == (2, 3)


def test_a_revoked_sign_in_is_forgotten_and_status_says_who_should_sign_in(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    fake_graph.revoke_tokens()
    fake_graph.delegated.revoke_refresh_tokens(EMAILS[LEAD_2])
    bot.slack.command("status")
    answer = fake_slack.wait_for(
        "response_url", lambda c: "Nobody is signed in" in c.params["text"]
    )
    assert "/apns signin" in answer.params["text"]
    assert bot.deps.store.get_signin("default", LEAD_2) is None
    assert "signin_dropped" in [e.event for e in bot.deps.store.history("default")]


def test_signout_forgets_the_sign_in(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    bot.slack.command("signin", user=LEAD_2)
    already = fake_slack.wait_for("response_url", lambda c: "You are signed in" in c.params["text"])
    assert EMAILS[LEAD_2] in already.params["text"]

    bot.slack.command("signout", user=LEAD_2)
    answer = fake_slack.wait_for("response_url", lambda c: "Signed out" in c.params["text"])
    assert EMAILS[LEAD_2] in answer.params["text"]
    assert bot.deps.store.get_signin("default", LEAD_2) is None
    assert "signed_out" in [e.event for e in bot.deps.store.history("default")]
    with pytest.raises(Exception, match="Nobody is signed in"):
        bot.deps.graph(bot.settings.default_tenant).get_certificate()
    bot.slack.command("signout", user=LEAD_2)
    fake_slack.wait_for("response_url", lambda c: "were not signed in" in c.params["text"])


def test_only_approvers_may_sign_in(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    bot.slack.command("signin", user="U0OUTSIDER")
    fake_slack.wait_for(
        "response_url", lambda c: "Only the configured approvers" in c.params["text"]
    )
    assert fake_graph.delegated.sessions == {}


@pytest.mark.parametrize(
    ("end", "code"),
    [("expire", "signin_expired"), ("decline", "signin_declined")],
)
def test_a_sign_in_that_expires_or_is_declined_fails_the_request_and_can_be_retried(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    end: str,
    code: str,
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(bot, fake_slack)
    user_code = approve_and_get_code(bot, fake_slack, request_id)
    getattr(fake_graph.delegated, end)(user_code)
    poll(bot)
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == code
    told = fake_slack.wait_for(
        "chat.postEphemeral", lambda c: "Nothing was uploaded" in c.params["text"]
    )
    assert told.params["user"] == LEAD_1

    before = len(fake_slack.calls)
    bot.slack.click(Action.RETRY, request_id, LEAD_1)
    again = user_code_in(prompt_for(fake_slack, before).params["text"])
    assert again != user_code
    fake_graph.delegated.sign_in(again, EMAILS[LEAD_1])
    poll(bot)
    renewed(fake_slack)
    done = bot.deps.store.get_request(request_id)
    assert done is not None and done.status is Status.APPLIED


def test_slow_down_adds_five_seconds_to_the_interval(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    bot.slack.command("signin", user=LEAD_2)
    code = user_code_in(prompt_for(fake_slack).params["text"])
    flow = bot.deps.store.get_device_flow("default", LEAD_2)
    assert flow is not None and flow.interval == 5
    fake_graph.delegated.slow_down(code)
    poll(bot)
    slowed = bot.deps.store.get_device_flow("default", LEAD_2)
    assert slowed is not None and slowed.interval == 10
    assert poll(bot, seconds=6) == 0  # 5 s would have been enough before; not now
    assert poll(bot, seconds=5) == 1


def test_app_only_tenants_have_nothing_to_sign_in_to(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    assert bot.deps.signins is None
    bot.slack.command("signin", user=LEAD_2)
    fake_slack.wait_for("response_url", lambda c: "app-only sign-in" in c.params["text"])
    assert fake_graph.delegated.sessions == {}


def test_the_scheduler_polls_by_itself_no_faster_than_the_interval(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    clock: MovableClock,
) -> None:
    fake_graph.delegated.interval = 5
    bot = start_delegated(start_bot)
    assert bot.deps.signins is not None
    [ticker] = start_signin_polling(bot.deps, every=0.05)  # ticks often; polls when due
    try:
        bot.slack.command("signin", user=LEAD_2)
        code = user_code_in(prompt_for(fake_slack).params["text"])
        session = fake_graph.delegated.session(code)
        for polls in (1, 2):
            clock.advance(seconds=4)  # not yet due: neither the ticker nor a direct call polls
            assert bot.deps.signins.poll_due() == []
            clock.advance(seconds=1)  # the interval has passed: the ticker polls by itself
            wait_until(lambda n=polls: len(session.polls) == n)
        fake_graph.delegated.sign_in(code, EMAILS[LEAD_2])
        clock.advance(seconds=5)
        fake_slack.wait_for("chat.postEphemeral", lambda c: "You are signed in" in c.params["text"])
    finally:
        ticker.stop()
    assert len(session.polls) == 3
    assert bot.deps.store.get_device_flow("default", LEAD_2) is None


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for something another thread does (the ticker runs on its own, in real time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def test_a_sign_in_saved_without_the_identity_check_is_rechecked_once_it_is_on(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    lax = start_delegated(start_bot, APNS_SKIP_IDENTITY_MATCH="true")
    sign_in(lax, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(lax, fake_slack)
    code = approve_and_get_code(lax, fake_slack, request_id)
    fake_graph.delegated.sign_in(code, "admin-lead1@contoso.onmicrosoft.example")
    poll(lax)
    renewed(fake_slack)  # LEAD_1's saved sign-in is another account

    strict = start_delegated(start_bot)  # same database, identity check back on
    fake_slack.reset()
    second = pending_request(strict, fake_slack, renewal(not_after=T0 + timedelta(days=500)))
    approve_and_get_code(
        strict, fake_slack, second
    )  # asked to sign in again, not uploaded as admin
    assert len(patches(fake_graph)) == 1
    events = [e.event for e in strict.deps.store.history("default")]
    assert "signin_refused" in events
