"""The renewal, end to end: /apns renew -> modal -> checks -> approval in the channel -> PATCH.

Signed requests go to the bot over HTTP; assertions are on what the fake Slack and the fake Graph
received, and on the SQLite file the bot wrote.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.core.requests import Failure, Status, new_change_request, new_request_id
from bot.slack.ids import Action, Block, Input, View
from tests.certgen import GeneratedCert, make_push_cert
from tests.clock import T0, RecordingSleep
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import CHANNEL, GROUP_LEAD, LEAD_1, LEAD_2, OUTSIDER, REQUESTER, RunningBot

CURRENT_UUID = "2f42b322-d7c9-4734-8e2e-eeadadd36f20"  # the fake tenant's current topic
APPLE_ID = "mdm-admin@contoso.example"
CERT_PATH = "deviceManagement/applePushNotificationCertificate"


def renewal(**kw: Any) -> GeneratedCert:
    """A renewal of the fake tenant's certificate (same topic, a year from now)."""
    kw.setdefault("topic_uuid", CURRENT_UUID)
    return make_push_cert(**kw)


def submit(
    bot: RunningBot,
    fake_slack: FakeSlack,
    content: bytes,
    *,
    apple_id: str = APPLE_ID,
    user: str = REQUESTER,
    reason: str | None = "CHG-1234",
    metadata: str = json.dumps({"tenant": "default", "channel": CHANNEL}),  # opened there
) -> dict[str, Any]:
    """Submit the renew modal with ``content`` as the uploaded file; return the ack body."""
    entry = fake_slack.host_file(
        "F0CERT0001", content, "MDM_ Microsoft Corporation_Certificate.pem"
    )
    values: dict[str, Any] = {
        Block.APPLE_ID: {Input.VALUE: {"type": "email_text_input", "value": apple_id}},
        Block.CERTIFICATE: {Input.FILE: {"type": "file_input", "files": [entry]}},
        Block.REASON: {Input.VALUE: {"type": "plain_text_input", "value": reason}},
    }
    view_id = "V0MODAL01"
    fake_slack.view_changed(view_id)  # the modal is open in Slack
    response = bot.slack.submit(
        View.RENEW, values, user=user, private_metadata=metadata, view_id=view_id
    )
    assert response.status_code == 200
    ack = response.json() if response.content else {}
    if ack.get("response_action") == "update":
        fake_slack.view_changed(view_id)  # Slack replaced the view with the acknowledged one
    return ack


def final_modal(fake_slack: FakeSlack, needle: str) -> Call:
    return fake_slack.wait_for("views.update", lambda c: needle in json.dumps(c.params))


def approval_message(fake_slack: FakeSlack) -> Call:
    return fake_slack.wait_for(
        "chat.postMessage", lambda c: Action.APPROVE.value in json.dumps(c.params.get("blocks"))
    )


def request_id_of(message: Call) -> str:
    blocks = (
        json.loads(message.params["blocks"])
        if isinstance(message.params["blocks"], str)
        else message.params["blocks"]
    )
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == Action.APPROVE:
                return str(element["value"])
    raise AssertionError("no Approve button")


def pending_request(
    bot: RunningBot, fake_slack: FakeSlack, cert: GeneratedCert | None = None
) -> str:
    """Submit a good renewal; return its request id once the approval message is recorded."""
    submit(bot, fake_slack, (cert or renewal()).pem)
    final_modal(fake_slack, "sent for approval")  # after the message's channel/ts were stored
    return request_id_of(approval_message(fake_slack))


def patches(fake_graph: FakeGraph) -> list[Any]:
    return fake_graph.requests_to(CERT_PATH, "PATCH")


def test_happy_path_from_command_to_renewed_notice(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    response, _ = bot.slack.command("renew")
    assert response.status_code == 200 and not response.content.strip(b"{} ")
    opened = fake_slack.wait_for("views.open")
    assert "Reading the current certificate" in json.dumps(opened.params)
    prefilled = final_modal(fake_slack, APPLE_ID)
    assert CURRENT_UUID in json.dumps(prefilled.params)

    cert = renewal()
    ack = submit(bot, fake_slack, cert.pem)
    assert ack["response_action"] == "update"
    assert "Checking" in json.dumps(ack["view"])
    sent = final_modal(fake_slack, "sent for approval")
    assert f"<#{CHANNEL}>" in json.dumps(sent.params)

    message = approval_message(fake_slack)
    assert message.params["channel"] == CHANNEL
    text = json.dumps(message.params["blocks"])
    for fact in (
        cert.serial,
        "(unchanged)",
        f"{DEFAULT_EXPIRY:%Y-%m-%d}",
        f"<@{REQUESTER}>",
        "CHG-1234",
    ):
        assert fact in text
    request_id = request_id_of(message)
    assert request_id.startswith("req_")
    assert patches(fake_graph) == []  # nothing reaches Intune before approval

    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    notice = fake_slack.wait_for(
        "chat.postMessage", lambda c: "renewed" in c.params.get("text", "")
    )
    assert f"expires {cert.not_after:%Y-%m-%d}" in notice.params["text"]
    [patch] = patches(fake_graph)
    assert patch.json == {"appleIdentifier": APPLE_ID, "certificate": cert.pem.decode()}
    assert fake_graph.entity()["certificateSerialNumber"] == cert.serial
    decided = fake_slack.wait_for("chat.update", lambda c: "Renewed" in json.dumps(c.params))
    assert Action.APPROVE.value not in json.dumps(decided.params["blocks"])
    assert f"<@{LEAD_1}>" in json.dumps(decided.params["blocks"])
    stored = bot.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED
    events = [e.event for e in bot.deps.store.history("default", request_id=request_id)]
    assert {"requested", "approved", "applying", "applied"} <= set(events)


def test_the_requester_cannot_approve_their_own_request(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_APPROVERS=f"{REQUESTER},{LEAD_1}")
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.APPROVE, request_id, REQUESTER)
    refusal = fake_slack.wait_for("response_url")
    assert "cannot approve your own request" in refusal.params["text"]
    assert refusal.params["response_type"] == "ephemeral"
    assert patches(fake_graph) == []
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.PENDING


def test_someone_who_is_not_an_approver_is_refused_and_the_request_stays_open(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.APPROVE, request_id, OUTSIDER)
    refusal = fake_slack.wait_for("response_url")
    assert "Only the configured approvers" in refusal.params["text"]
    bot.wait_idle()
    assert patches(fake_graph) == []
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.PENDING


def test_a_member_of_an_approver_user_group_may_approve(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.APPROVE, request_id, GROUP_LEAD)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert len(patches(fake_graph)) == 1


def test_user_groups_on_a_free_plan_are_reported_and_user_ids_keep_working(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_slack.usergroups = None  # usergroups.users.list -> plan_upgrade_required
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.APPROVE, request_id, GROUP_LEAD)
    refusal = fake_slack.wait_for("response_url")
    assert "paid Slack plan" in refusal.params["text"]
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert len(patches(fake_graph)) == 1


def test_two_approvers_clicking_at_once_give_one_patch(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    fake_graph.set_latency(0.3)
    barrier = threading.Barrier(4)

    def click(user: str) -> None:
        barrier.wait()
        bot.slack.click(Action.APPROVE, request_id, user)

    threads = [
        threading.Thread(target=click, args=(u,)) for u in (LEAD_1, LEAD_2, LEAD_1, GROUP_LEAD)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    bot.wait_idle()
    assert len(patches(fake_graph)) == 1
    renewed = [
        c for c in fake_slack.calls_to("chat.postMessage") if "renewed" in c.params.get("text", "")
    ]
    assert len(renewed) == 1


def test_two_required_approvals_wait_for_a_second_distinct_approver(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_REQUIRED_APPROVALS="2")
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    recorded = fake_slack.wait_for("response_url")
    assert "1 more needed" in recorded.params["text"]
    update = fake_slack.wait_for(
        "chat.update", lambda c: "Approvals: 1 of 2" in json.dumps(c.params)
    )
    assert Action.APPROVE.value in json.dumps(update.params["blocks"])
    assert patches(fake_graph) == []
    bot.slack.click(Action.APPROVE, request_id, LEAD_2)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert len(patches(fake_graph)) == 1


@pytest.mark.parametrize(
    ("make", "apple_id", "code"),
    [
        (lambda: make_push_cert(), APPLE_ID, "topic_mismatch"),
        (lambda: renewal(), "someone-else@contoso.example", "apple_id_mismatch"),
        (lambda: renewal(not_after=T0 + timedelta(days=200)), APPLE_ID, "not_newer"),
    ],
)
def test_a_certificate_that_would_hurt_gets_no_approval_message_and_a_clear_modal_error(
    bot: RunningBot,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    make: Callable[[], GeneratedCert],
    apple_id: str,
    code: str,
) -> None:
    submit(bot, fake_slack, make().pem, apple_id=apple_id)
    modal = final_modal(fake_slack, "cannot be used")
    assert code in json.dumps(modal.params)
    bot.wait_idle()
    assert fake_slack.calls_to("chat.postMessage") == []
    assert bot.deps.store.list_requests("default") == []


def test_a_private_key_upload_is_refused_and_stored_nowhere(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    cert = renewal()
    content = cert.with_key()
    key_body = cert.key_pem().decode().splitlines()[1]
    submit(bot, fake_slack, content)
    modal = final_modal(fake_slack, "private_key_present")
    assert key_body not in json.dumps(modal.params)
    bot.wait_idle()
    assert fake_slack.calls_to("chat.postMessage") == []
    db = bot.settings.db_path
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert key_body.encode() not in stored
    assert key_body not in caplog.text


def test_an_html_sign_in_page_instead_of_the_file_is_a_clear_error(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    entry = fake_slack.host_file("F0CERT0002", renewal().pem)
    entry["url_private_download"] = entry["url_private_download"].replace("F0CERT0002", "F0MISSING")
    values = {
        Block.APPLE_ID: {Input.VALUE: {"type": "email_text_input", "value": APPLE_ID}},
        Block.CERTIFICATE: {Input.FILE: {"type": "file_input", "files": [entry]}},
    }
    fake_slack.view_changed("V0MODAL01")
    bot.slack.submit(
        View.RENEW, values, private_metadata=json.dumps({"tenant": "default", "channel": CHANNEL})
    )
    modal = final_modal(fake_slack, "sign-in page")
    assert "files:read" in json.dumps(modal.params)


def test_a_malformed_apple_id_keeps_the_modal_open_with_a_field_error(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    ack = submit(bot, fake_slack, renewal().pem, apple_id="not an email")
    assert ack["response_action"] == "errors"
    assert Block.APPLE_ID in ack["errors"]


def test_graph_503_on_the_patch_is_read_back_and_uploaded_again(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    fake_graph.inject("PATCH", CERT_PATH, Fault.unavailable())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for(
        "chat.postMessage", lambda c: "renewed" in c.params.get("text", ""), timeout=20
    )
    assert len(patches(fake_graph)) == 2


def test_a_500_after_intune_applied_the_change_is_not_uploaded_twice(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    fake_graph.inject("PATCH", CERT_PATH, Fault.error_after_apply())
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert len(patches(fake_graph)) == 1


def test_a_graph_failure_is_shown_with_retry_and_retry_applies_it(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    fake_graph.set_permission("Read")
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    failed = fake_slack.wait_for("chat.update", lambda c: "failed" in json.dumps(c.params))
    blocks = json.dumps(failed.params["blocks"])
    assert Action.RETRY.value in blocks
    assert "DeviceManagementServiceConfig.ReadWrite.All" in blocks
    assert "request-id" in blocks
    thread_note = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("thread_ts") is not None
    )
    assert "Retry" in thread_note.params["text"]

    fake_graph.set_permission("ReadWrite")
    bot.slack.click(Action.RETRY, request_id, OUTSIDER)
    refusal = fake_slack.wait_for(
        "response_url", lambda c: "retry" in c.params.get("text", "").lower()
    )
    assert "approvers" in refusal.params["text"]
    bot.slack.click(Action.RETRY, request_id, LEAD_2)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLIED and request.attempts == 2


def test_reject_asks_why_and_closes_the_request(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    bot.slack.click(Action.REJECT, request_id, LEAD_1)
    opened = fake_slack.wait_for(
        "views.open", lambda c: View.REJECT_REASON.value in json.dumps(c.params)
    )
    metadata = (
        json.loads(opened.params["view"])["private_metadata"]
        if isinstance(opened.params["view"], str)
        else opened.params["view"]["private_metadata"]
    )
    values = {
        Block.REJECT_REASON: {Input.VALUE: {"type": "plain_text_input", "value": "Wrong Apple ID"}}
    }
    response = bot.slack.submit(View.REJECT_REASON, values, user=LEAD_1, private_metadata=metadata)
    assert response.status_code == 200
    update = fake_slack.wait_for("chat.update", lambda c: "Rejected" in json.dumps(c.params))
    assert "Wrong Apple ID" in json.dumps(update.params["blocks"])
    bot.slack.click(Action.APPROVE, request_id, LEAD_2)
    refusal = fake_slack.wait_for("response_url")
    assert "rejected" in refusal.params["text"]
    assert patches(fake_graph) == []


def test_a_pending_request_expires_and_says_so(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    message = approval_message(fake_slack)
    assert "24 h" in json.dumps(message.params["blocks"])
    bot.clock.advance(hours=25)
    expired = bot.deps.applying.expire_due()
    assert [r.id for r in expired] == [request_id]
    fake_slack.wait_for("chat.update", lambda c: "Expired" in json.dumps(c.params))
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    refusal = fake_slack.wait_for("response_url")
    assert "expired" in refusal.params["text"]
    assert patches(fake_graph) == []


def test_slack_rate_limits_on_posting_are_waited_out(
    bot: RunningBot, fake_slack: FakeSlack, sleeps: RecordingSleep
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    submit(bot, fake_slack, renewal().pem)
    final_modal(fake_slack, "sent for approval")  # only after the post went through
    attempts = fake_slack.calls_to("chat.postMessage")
    assert len(attempts) == 2
    [waited] = sleeps.delays  # Retry-After: 1 was honoured (plus slack_sdk's jitter)
    assert 1.0 <= waited < 2.0


@pytest.mark.parametrize("in_place", [False, True])
def test_a_request_left_applying_by_a_crash_is_reconciled_at_start_up(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    in_place: bool,
) -> None:
    first = start_bot()
    cert = renewal()
    request_id = pending_request(first, fake_slack, cert)
    store = first.deps.store
    now = first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)  # ...then the crash
    if in_place:  # the PATCH had reached Intune before the crash
        fake_graph.set_entity(
            topicIdentifier=cert.topic,
            certificateSerialNumber=cert.serial,
            expirationDateTime=cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    second = start_bot()  # same database file
    second.clock.advance(minutes=11)  # past the lease: nobody is still working on it
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None
    if in_place:
        assert request.status is Status.APPLIED
        fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    else:
        assert request.status is Status.FAILED
        assert request.failure is not None and request.failure.code == "interrupted"
    assert patches(fake_graph) == []
    assert "reconciled" in [
        e.event for e in second.deps.store.history("default", request_id=request_id)
    ]


def test_a_quick_submission_is_not_overwritten_by_the_late_prefill(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()  # the prefill's Graph read is slow...
    bot.slack.command("renew")
    fake_slack.wait_for("views.open")
    fake_graph.wait_held()
    [view_id] = fake_slack.view_hashes  # ...and the person submits before it arrives
    entry = fake_slack.host_file("F0CERT0001", renewal().pem)
    values = {
        Block.APPLE_ID: {Input.VALUE: {"type": "email_text_input", "value": APPLE_ID}},
        Block.CERTIFICATE: {Input.FILE: {"type": "file_input", "files": [entry]}},
    }
    metadata = json.dumps(
        {"tenant": "default", "channel": CHANNEL}
    )  # as the opened form carries it
    ack = bot.slack.submit(View.RENEW, values, private_metadata=metadata, view_id=view_id).json()
    assert ack["response_action"] == "update"
    fake_slack.view_changed(view_id)
    fake_graph.release()
    # the late prefill (the form, or what to renew when the tenant has tokens) carries the hash
    late = fake_slack.wait_for("views.update", lambda c: bool(c.params.get("hash")))
    assert late.answer == {"ok": False, "error": "hash_conflict"}
    fake_slack.wait_for("views.update", lambda c: "sent for approval" in json.dumps(c.params))


def test_an_upload_in_flight_on_another_replica_is_left_alone(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = start_bot()
    request_id = pending_request(first, fake_slack)
    store, now = first.deps.store, first.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)  # first is uploading

    second = start_bot()  # a replica starting up meanwhile
    second.deps.applying.reconcile()
    request = second.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLYING
    assert patches(fake_graph) == []


def test_a_certificate_replaced_in_the_console_before_approval_is_not_uploaded(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    request_id = pending_request(bot, fake_slack)
    console = renewal(not_after=T0 + timedelta(days=400))
    fake_graph.set_entity(
        certificateSerialNumber=console.serial,
        expirationDateTime=console.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    failed = fake_slack.wait_for("chat.update", lambda c: "tenant_changed" in json.dumps(c.params))
    assert "submit the certificate again" in json.dumps(failed.params["blocks"])
    assert patches(fake_graph) == []


def test_a_failed_request_found_in_place_on_retry_is_applied_without_a_patch(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    cert = renewal()
    request_id = pending_request(bot, fake_slack, cert)
    store, now = bot.deps.store, bot.clock()
    store.add_approval(request_id, LEAD_1, now)
    assert store.transition(request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    assert store.transition(request_id, Status.APPROVED, Status.APPLYING, now)
    failure = Failure("ServiceUnavailable", "Graph timed out", None)
    assert store.transition(request_id, Status.APPLYING, Status.FAILED, now, failure=failure)
    fake_graph.set_entity(  # ...but the upload had landed in Intune
        topicIdentifier=cert.topic,
        certificateSerialNumber=cert.serial,
        expirationDateTime=cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    bot.slack.click(Action.RETRY, request_id, LEAD_2)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert patches(fake_graph) == []
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLIED


def test_a_newer_request_supersedes_the_pending_one(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = pending_request(bot, fake_slack)
    fake_slack.reset()
    second = pending_request(bot, fake_slack)
    update = fake_slack.wait_for("chat.update", lambda c: "Cancelled" in json.dumps(c.params))
    assert second in json.dumps(update.params["blocks"])
    bot.slack.click(Action.APPROVE, first, LEAD_1)
    assert "cancelled" in fake_slack.wait_for("response_url").params["text"]
    assert patches(fake_graph) == []


def test_reconcile_skips_a_request_of_a_tenant_no_longer_configured(bot: RunningBot) -> None:
    cert = renewal()
    now = bot.clock()
    orphan = new_change_request(
        id=new_request_id(now, b"\x01" * 10), tenant="gone", requester=REQUESTER,
        apple_id=APPLE_ID, certificate_pem=cert.pem.decode(), sha256="AA", topic=str(cert.topic),
        serial=cert.serial, not_after=cert.not_after, now=now, ttl=timedelta(hours=24),
    )  # fmt: skip
    store = bot.deps.store
    store.create_request(orphan)
    store.add_approval(orphan.id, LEAD_1, now)
    assert store.transition(orphan.id, Status.PENDING, Status.APPROVED, now, require_approvals=1)
    bot.clock.advance(minutes=5)
    bot.deps.applying.reconcile()  # must not raise, nor stop at the orphan
    request = store.get_request(orphan.id)
    assert request is not None and request.status is Status.APPROVED


def test_a_rate_limited_views_open_is_not_retried_on_the_listener_thread(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit("views.open", retry_after=5)
    bot.slack.command("renew")
    refusal = fake_slack.wait_for("response_url")
    assert "could not be opened" in refusal.params["text"]
    assert len(fake_slack.calls_to("views.open")) == 1  # the trigger would expire before a retry
