"""Renewing ADE and Apps and Books (VPP) tokens end to end: /apns renew ade|vpp -> the form ->
pre-flight against the fake Graph -> approval in the channel -> one upload -> read-back -> result.

Signed requests go to the bot over HTTP; assertions are on what the fake Slack and the fake Graph
received and on the store the bot wrote. The files are generated (``tests.tokengen``): VPP tokens
as base64 JSON, ADE tokens as S/MIME EnvelopedData encrypted to the key the fake Graph serves.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing

from bot.adapters.sealing import generate_key
from bot.core.requests import Status
from bot.slack.ids import Action, View
from bot.usecases.token_applying import UPLOAD_SENT
from tests.clock import days
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_tokens import DEFAULT_VPP_EXPIRY, vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import (
    ADE_APPLE_ID,
    ADE_ID,
    VPP_ID,
    approval_message,
    final_modal,
    pending_token_request,
    renewed_notice,
    request_id_of,
    submit_token,
    syncs,
    uploads,
)
from tests.harness import LEAD_1, LEAD_2, REQUESTER, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

# --- VPP ------------------------------------------------------------------------------------------


def test_vpp_token_from_command_to_renewed_notice(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    response, _ = bot.slack.command("renew vpp")
    assert response.status_code == 200
    opened = fake_slack.wait_for("views.open")
    assert "Reading the token" in json.dumps(opened.params)
    form = final_modal(fake_slack, "Check and submit")
    assert "Contoso Ltd" in json.dumps(form.params) and View.RENEW_TOKEN.value in json.dumps(
        form.params
    )

    ack = submit_token(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    assert ack["response_action"] == "update" and "Checking" in json.dumps(ack["view"])
    final_modal(fake_slack, "sent for approval")
    message = approval_message(fake_slack)
    text = json.dumps(message.params["blocks"], ensure_ascii=False)
    for fact in ("VPP token renewal", "Contoso Ltd", "Contoso Apps and Books", "CHG-77"):
        assert fact in text
    assert f"{DEFAULT_VPP_EXPIRY:%Y-%m-%d} → *{days(365):%Y-%m-%d}*" in text
    assert "Checks passed" in text
    assert uploads(fake_graph, "vpp") == []  # nothing reaches Intune before approval

    request_id = request_id_of(message)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert f"expires {days(365):%Y-%m-%d}" in notice.params["text"]
    [patch] = uploads(fake_graph, "vpp")
    assert patch.json is not None and set(patch.json) == {"token"}
    assert len(syncs(fake_graph)) == 1
    stored = bot.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED
    assert stored.result is not None and stored.result.expiry is not None
    history = bot.deps.store.history("default", request_id=request_id)
    assert {"requested", "approved", "applying", "applied"} <= {e.event for e in history}
    assert not any(patch.json["token"] in json.dumps(dict(e.detail)) for e in history)


def test_vpp_read_back_that_lags_says_intune_will_show_it_after_its_sync(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.token_writes.lag_reads = 5
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert "Intune will show the new expiry after its next sync with Apple" in notice.params["text"]
    assert len(uploads(fake_graph, "vpp")) == 1
    stored = bot.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED
    assert stored.result is None or stored.result.expiry is None  # no new expiry seen yet
    shown = [e.detail.get("new_expiry_shown") for e in bot.deps.store.history("default")]
    assert False in shown


def test_vpp_503_is_read_back_then_uploaded_again_once(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.inject("PATCH", f"/vppTokens/{VPP_ID}", Fault.unavailable())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack, timeout=20)
    assert len(uploads(fake_graph, "vpp")) == 2  # the read-back showed it had not landed


def test_vpp_500_after_intune_applied_it_is_not_uploaded_twice(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.inject("PATCH", f"/vppTokens/{VPP_ID}", Fault.error_after_apply())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert f"expires {days(365):%Y-%m-%d}" in notice.params["text"]
    assert len(uploads(fake_graph, "vpp")) == 1


def test_double_clicks_by_two_approvers_upload_once(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    clicks = [
        threading.Thread(target=bot.slack.click, args=(Action.APPROVE, request_id, user))
        for user in (LEAD_1, LEAD_2, LEAD_1, LEAD_2)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    renewed_notice(fake_slack)
    bot.wait_idle()
    assert len(uploads(fake_graph, "vpp")) == 1
    assert len(syncs(fake_graph)) == 1


# --- ADE ------------------------------------------------------------------------------------------


def test_ade_token_from_command_to_renewed_notice(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.slack.command("renew ade Contoso ABM")
    form = final_modal(fake_slack, "Check and submit")
    assert ADE_APPLE_ID in json.dumps(form.params)  # the Apple ID is prefilled

    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "ade", content)
    text = json.dumps(approval_message(fake_slack).params["blocks"], ensure_ascii=False)
    assert "ADE token renewal" in text and "Contoso ABM" in text and ADE_APPLE_ID in text
    assert "(unchanged)" in text

    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = renewed_notice(fake_slack)
    assert f"expires {days(365):%Y-%m-%d}" in notice.params["text"]
    [upload] = uploads(fake_graph, "ade")
    assert upload.json is not None and upload.json["appleId"] == ADE_APPLE_ID
    token = fake_graph.apple_tokens.find(FAKE_TENANT_ID, "ade", ADE_ID)
    assert token is not None and str(token["tokenExpirationDateTime"]).startswith(
        f"{days(365):%Y-%m-%d}"
    )


def test_ade_503_then_success_uploads_twice_only_because_the_first_did_not_land(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "ade", content)
    fake_graph.inject("POST", "/uploadDepToken", Fault.unavailable())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack, timeout=20)
    assert len(uploads(fake_graph, "ade")) == 2


def test_ade_500_after_apply_is_read_back_and_not_sent_again(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "ade", content)
    fake_graph.inject("POST", "/uploadDepToken", Fault.error_after_apply())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack)
    assert len(uploads(fake_graph, "ade")) == 1


def test_an_ade_apple_id_change_is_a_warning_on_the_approval_message(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    submit_token(bot, fake_slack, "ade", content, apple_id="someone-else@contoso.example")
    sent = final_modal(fake_slack, "sent for approval")
    assert "apple_id_mismatch" not in json.dumps(sent.params)  # the sentence, not the code
    text = json.dumps(approval_message(fake_slack).params["blocks"], ensure_ascii=False)
    assert "apple_id_mismatch" in text and ":warning: *changed*" in text


# --- a crash mid-upload ---------------------------------------------------------------------------


def _crash_while_applying(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, kind: str, content: bytes
) -> tuple[RunningBot, str]:
    first = start_bot()
    request_id = pending_token_request(first, fake_slack, kind, content)
    store, now = first.deps.store, first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)  # ...then the crash
    return first, request_id


def test_a_crash_after_the_ade_upload_landed_is_settled_as_applied_at_start_up(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    first, request_id = _crash_while_applying(start_bot, fake_slack, "ade", content)
    first.deps.store.audit("default", UPLOAD_SENT, "system", first.clock(), request_id=request_id)
    fake_graph.apple_tokens.update(
        FAKE_TENANT_ID,
        "ade",
        ADE_ID,
        tokenExpirationDateTime=days(365).strftime("%Y-%m-%dT%H:%M:%SZ"),
        lastModifiedDateTime=days(0).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )  # the upload had reached Intune before the crash
    second = start_bot()
    second.clock.advance(minutes=11)  # past the lease
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLIED
    renewed_notice(fake_slack)
    assert uploads(fake_graph, "ade") == []
    events = [e.event for e in second.deps.store.history("default", request_id=request_id)]
    assert "reconciled" in events


def test_a_crash_before_the_vpp_upload_fails_it_with_retry_which_uploads_once(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = vpp_token_file(expires_at=days(365))
    _first, request_id = _crash_while_applying(start_bot, fake_slack, "vpp", content)
    second = start_bot()
    second.clock.advance(minutes=11)
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "interrupted"
    assert uploads(fake_graph, "vpp") == []

    second.slack.click(Action.RETRY, request_id, LEAD_2)
    renewed_notice(fake_slack)
    second.wait_idle()
    assert len(uploads(fake_graph, "vpp")) == 1


def test_a_token_renewed_in_the_console_before_approval_is_not_uploaded(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "vpp", [vpp_token(expires_at=days(300))]
    )  # someone renewed it in Intune meanwhile
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "failed" in c.params.get("text", ""))
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "tenant_changed"
    assert uploads(fake_graph, "vpp") == []


def test_the_requester_cannot_approve_their_own_token_request(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_APPROVERS=f"{REQUESTER},{LEAD_1}")
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    bot.slack.click(Action.APPROVE, request_id, REQUESTER)
    refusal = fake_slack.wait_for("response_url")
    assert "cannot approve your own request" in refusal.params["text"]
    assert uploads(fake_graph, "vpp") == []


def test_a_token_renewed_elsewhere_while_nothing_was_sent_is_never_taken_for_ours(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    _first, request_id = _crash_while_applying(start_bot, fake_slack, "ade", content)
    fake_graph.apple_tokens.update(  # renewed in the Intune console; the crash sent nothing
        FAKE_TENANT_ID,
        "ade",
        ADE_ID,
        tokenExpirationDateTime=days(200).strftime("%Y-%m-%dT%H:%M:%SZ"),
        lastModifiedDateTime=days(0).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    second = start_bot()
    second.clock.advance(minutes=11)
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED  # not "applied"

    second.slack.click(Action.RETRY, request_id, LEAD_2)
    fake_slack.wait_for("chat.postMessage", lambda c: "tenant_changed" in c.params.get("text", ""))
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.FAILED
    assert request.failure is not None and request.failure.code == "tenant_changed"
    assert uploads(fake_graph, "ade") == []


def test_a_rejected_token_request_is_never_uploaded(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    assert bot.deps.renewals.reject(request_id, LEAD_1, "wrong location") is None
    bot.slack.click(Action.APPROVE, request_id, LEAD_2)
    refusal = fake_slack.wait_for("response_url")
    assert "rejected" in refusal.params["text"].lower()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.REJECTED
    assert request.rejection is not None and request.rejection.reason == "wrong location"
    assert uploads(fake_graph, "vpp") == []


def test_with_apns_token_key_the_file_is_sealed_in_the_database_and_uploaded_intact(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_TOKEN_KEY=generate_key())
    content = vpp_token_file(expires_at=days(365))
    request_id = pending_token_request(bot, fake_slack, "vpp", content)
    with closing(sqlite3.connect(bot.settings.db_path)) as db:
        [(column,)] = db.execute(
            "SELECT certificate_pem FROM change_requests WHERE id = ?", (request_id,)
        ).fetchall()
    assert column.startswith("sealed:") and content.decode() not in column
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    renewed_notice(fake_slack)
    [patch] = uploads(fake_graph, "vpp")
    assert patch.json == {"token": content.decode()}
