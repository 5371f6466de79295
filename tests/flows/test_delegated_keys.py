"""APNS_TOKEN_KEY replaced or rotated: a clear message and a way out, never a crash loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.requests import Status
from bot.slack.ids import Action
from bot.usecases.applying import UNREADABLE_CERTIFICATE
from tests.delegated_fixtures import (
    EMAILS,
    KEY,
    OTHER_KEY,
    poll,
    prompt_for,
    sign_in,
    start_delegated,
    user_code_in,
)
from tests.delegated_fixtures import delegated_fakes as delegated_fakes  # fixture
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import patches, pending_request
from tests.harness import LEAD_1, LEAD_2, RunningBot

pytestmark = pytest.mark.usefixtures("delegated_fakes")


def test_a_replaced_key_drops_what_it_cannot_open_and_says_so(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = start_delegated(start_bot)
    sign_in(first, fake_slack, fake_graph, LEAD_2)
    request_id = pending_request(first, fake_slack)
    before = len(fake_slack.calls)
    first.slack.click(Action.APPROVE, request_id, LEAD_1)
    prompt_for(fake_slack, before)  # LEAD_1 got a code; then the key changes

    second = start_delegated(start_bot, APNS_TOKEN_KEY=OTHER_KEY)
    assert poll(second) == 1  # the pending flow cannot be opened: it ends, it is not retried
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and "APNS_TOKEN_KEY" in request.failure.message
    told = fake_slack.wait_for("chat.postEphemeral", lambda c: "APNS_TOKEN_KEY" in c.params["text"])
    assert told.params["user"] == LEAD_1
    assert poll(second) == 0

    second.slack.command("status")
    fake_slack.wait_for("response_url", lambda c: "Nobody is signed in" in c.params["text"])
    assert second.deps.store.get_signin("default", LEAD_2) is None
    dropped = [e for e in second.deps.store.history("default") if e.event == "signin_dropped"]
    assert [e.detail["why"] for e in dropped] == ["key_mismatch"]
    assert "APNS_TOKEN_KEY" in caplog.text and "sign in again" in caplog.text

    # the way out: sign in again; the request's certificate, sealed with the old key, is refused
    before = len(fake_slack.calls)
    second.slack.click(Action.RETRY, request_id, LEAD_1)
    code = user_code_in(prompt_for(fake_slack, before).params["text"])
    fake_graph.delegated.sign_in(code, EMAILS[LEAD_1])
    poll(second)
    failed = second.deps.store.get_request(request_id)
    assert failed is not None and failed.status is Status.FAILED
    assert failed.failure is not None and failed.failure.message == UNREADABLE_CERTIFICATE
    assert patches(fake_graph) == []
    assert second.deps.store.get_signin("default", LEAD_1) is not None


def test_a_rotated_key_still_opens_what_the_old_one_sealed(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_delegated(start_bot)
    sign_in(first, fake_slack, fake_graph, LEAD_1)
    request_id = pending_request(first, fake_slack)

    second = start_delegated(start_bot, APNS_TOKEN_KEY=f"{OTHER_KEY},{KEY}")
    second.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    [patch] = patches(fake_graph)
    assert fake_graph.token_user(patch) == EMAILS[LEAD_1]
