"""When is a token upload this request's? The read-back after a lost answer, a refusal, a crash:
a token renewed elsewhere (another expiry) is never taken for ours, and a refused upload is
withdrawn so a later console renewal is not marked as this request's."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bot.core.requests import Status
from bot.slack.ids import Action
from bot.usecases.token_applying import UPLOAD_REFUSED, UPLOAD_SENT
from tests.clock import days, iso
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import ADE_ID, VPP_ID, pending_token_request, renewed_notice, uploads
from tests.harness import LEAD_1, LEAD_2, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file


def _console_renewal(fake_graph: FakeGraph, expires_in_days: int) -> None:
    """Someone renews the VPP token in the Intune console: another expiry, a newer lastModified."""
    assert fake_graph.apple_tokens.update(
        FAKE_TENANT_ID,
        "vpp",
        VPP_ID,
        expirationDateTime=iso(days(expires_in_days)),
        lastModifiedDateTime=iso(days(0)),
    )


def _failed_with(fake_slack: FakeSlack, code: str) -> None:
    fake_slack.wait_for("chat.postMessage", lambda c: code in c.params.get("text", ""))


def test_a_refused_upload_then_a_console_renewal_makes_retry_end_tenant_changed(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.inject("PATCH", f"/vppTokens/{VPP_ID}", Fault.intune_bad_request())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "failed" in c.params.get("text", ""))
    bot.wait_idle()
    events = [e.event for e in bot.deps.store.history("default", request_id=request_id)]
    assert UPLOAD_SENT in events and UPLOAD_REFUSED in events

    _console_renewal(fake_graph, 300)
    bot.slack.click(Action.RETRY, request_id, LEAD_2)
    _failed_with(fake_slack, "tenant_changed")
    bot.wait_idle()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "tenant_changed"
    assert len(uploads(fake_graph, "vpp")) == 1  # only the refused one


def test_a_sent_upload_then_a_read_showing_another_expiry_is_not_applied(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_bot()
    request_id = pending_token_request(
        first, fake_slack, "vpp", vpp_token_file(expires_at=days(365))
    )
    store, now = first.deps.store, first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)
    store.audit("default", UPLOAD_SENT, "system", now, request_id=request_id, detail={"attempt": 1})
    _console_renewal(fake_graph, 300)  # the lost upload did not land; a console renewal did

    second = start_bot()
    second.clock.advance(minutes=11)
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED  # not "applied"

    second.slack.click(Action.RETRY, request_id, LEAD_2)
    _failed_with(fake_slack, "tenant_changed")
    second.wait_idle()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.failure is not None
    assert request.failure.code == "tenant_changed"
    assert uploads(fake_graph, "vpp") == []


def test_an_intune_sync_bumping_last_modified_before_approval_does_not_block_the_upload(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "ade", content)
    assert fake_graph.apple_tokens.update(  # Intune's own sync with Apple; same token
        FAKE_TENANT_ID, "ade", ADE_ID, lastModifiedDateTime=iso(days(0))
    )
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert f"expires {days(365):%Y-%m-%d}" in notice.params["text"]
    assert len(uploads(fake_graph, "ade")) == 1


def test_a_token_request_that_changed_in_intune_offers_no_retry_but_a_new_submission(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    _console_renewal(fake_graph, 300)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    failed = fake_slack.wait_for(
        "chat.postMessage", lambda c: "tenant_changed" in c.params.get("text", "")
    )
    assert "Retry upload" not in failed.params["text"]
    assert "submit the file again" in failed.params["text"]
    bot.wait_idle()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.message_ts is not None
    updates = [
        c for c in fake_slack.calls_to("chat.update") if c.params["ts"] == request.message_ts
    ]
    assert updates, "the approval message is re-rendered"
    last = json.dumps(updates[-1].params["blocks"])
    assert Action.RETRY.value not in last and "submit the file again" in last


@pytest.mark.parametrize("kind", ["ade", "vpp"])
def test_an_intune_sync_before_approval_and_a_503_is_not_taken_for_the_upload(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, kind: str
) -> None:
    """Intune's own sync bumps lastModifiedDateTime while the request waits; the upload then gets
    a 503 and does not land: the read-back must not count the sync's bump as the upload."""
    if kind == "ade":
        content = ade_token_file(intune_key(1), expires_at=days(365))
        token_id, method, path = ADE_ID, "POST", "/uploadDepToken"
    else:
        content = vpp_token_file(expires_at=days(365))
        token_id, method, path = VPP_ID, "PATCH", f"/vppTokens/{VPP_ID}"
    request_id = pending_token_request(bot, fake_slack, kind, content)
    assert fake_graph.apple_tokens.update(
        FAKE_TENANT_ID, kind, token_id, lastModifiedDateTime=iso(days(0))
    )
    fake_graph.inject(method, path, Fault.unavailable())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack, timeout=20)
    # the read-back after the 503 showed nothing new: the token was sent again, and landed
    assert len(uploads(fake_graph, kind)) == 2


@pytest.mark.parametrize("kind", ["ade", "vpp"])
def test_a_pending_token_request_expires_like_a_certificate_request(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, kind: str
) -> None:
    if kind == "ade":
        content = ade_token_file(intune_key(1), expires_at=days(365))
    else:
        content = vpp_token_file(expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, kind, content)
    bot.clock.advance(hours=25)  # APNS_APPROVAL_TTL_HOURS is 24
    expired = bot.deps.applying.expire_due()
    assert [r.id for r in expired] == [request_id]
    fake_slack.wait_for("chat.update", lambda c: "Expired" in json.dumps(c.params))
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    refusal = fake_slack.wait_for("response_url")
    assert "expired" in refusal.params["text"]
    assert uploads(fake_graph, kind) == []
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.EXPIRED
    assert request.certificate_pem == ""  # a final state drops the token file
