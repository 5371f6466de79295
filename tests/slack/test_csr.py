"""``/apns csr`` and *Get CSR*: the CSR reaches the requester's DM byte for byte as IntuneCSR.csr."""

from __future__ import annotations

import json

from bot.slack.ids import Action
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import SCOPES, Call, FakeSlack
from tests.harness import LEAD_1, REQUESTER, RunningBot

TOPIC = "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
APPLE_ID = "mdm-admin@contoso.example"


def completed(fake_slack: FakeSlack) -> Call:
    return fake_slack.wait_for("files.completeUploadExternal")


def uploaded_bytes(fake_slack: FakeSlack, call: Call) -> bytes:
    files = call.params["files"]
    [entry] = json.loads(files) if isinstance(files, str) else files
    return bytes(fake_slack.uploads[entry["id"]]["content"])


def test_csr_command_sends_the_file_byte_for_byte_with_the_steps(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    response, _ = bot.slack.command("csr")
    assert response.json()["response_type"] == "ephemeral"
    assert "Getting Intune's certificate signing request" in response.json()["text"]

    done = completed(fake_slack)
    [opened] = fake_slack.calls_to("conversations.open")
    assert opened.params["users"] == REQUESTER
    [asked] = fake_slack.calls_to("files.getUploadURLExternal")
    expected = fake_graph.csr().encode()
    assert asked.params["filename"] == "IntuneCSR.csr"
    assert int(asked.params["length"]) == len(expected)
    assert uploaded_bytes(fake_slack, done) == expected
    assert done.params["channel_id"] == fake_slack.ims[REQUESTER]
    comment = done.params["initial_comment"]
    for fact in (APPLE_ID, TOPIC, "https://identity.apple.com", "*Renew*", "/apns renew", ".pem"):
        assert fact in comment
    assert "Create a Certificate" in comment and "not *Create" in comment

    answer = fake_slack.wait_for("response_url")
    assert "IntuneCSR.csr" in answer.params["text"] and answer.params["replace_original"] is True
    [event] = [e for e in bot.deps.store.history("default") if e.event == "csr_sent"]
    assert event.actor == REQUESTER and event.detail == {"bytes": len(expected)}


def test_get_csr_on_a_reminder_dms_the_clicker_and_leaves_the_reminder(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.slack.click(Action.GET_CSR, "default", "U0LEADONE")
    done = completed(fake_slack)
    assert uploaded_bytes(fake_slack, done) == fake_graph.csr().encode()
    assert fake_slack.calls_to("conversations.open")[0].params["users"] == "U0LEADONE"
    answer = fake_slack.wait_for("response_url")
    assert answer.params["replace_original"] is False
    assert answer.params["response_type"] == "ephemeral"


def test_get_csr_in_the_home_tab_sends_the_file(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.slack.click(Action.GET_CSR, "default", LEAD_1, container="view")  # an approver
    assert uploaded_bytes(fake_slack, completed(fake_slack)) == fake_graph.csr().encode()


def test_a_tenant_without_a_certificate_is_told_to_create_one(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.clear_certificate()
    bot.slack.command("csr")
    comment = completed(fake_slack).params["initial_comment"]
    assert "Press *Create a Certificate*" in comment and "*Renew*" not in comment


def test_graph_refusing_the_csr_is_said_without_uploading(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.set_permission("None")
    bot.slack.command("csr")
    answer = fake_slack.wait_for("response_url")
    assert "could not be downloaded" in answer.params["text"]
    assert "DeviceManagementServiceConfig" in answer.params["text"]
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_missing_im_write_scope_names_the_fix(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_slack.scopes = SCOPES.replace("im:write,", "")
    bot.slack.command("csr")
    answer = fake_slack.wait_for("response_url")
    assert "missing_scope" in answer.params["text"] and "im:write" in answer.params["text"]
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_slow_graph_does_not_delay_the_acknowledgement(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()  # Graph answers only when the test says so
    response, _ = bot.slack.command("csr")
    assert response.status_code == 200  # acknowledged while the download is still unanswered
    fake_graph.wait_held()
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    fake_graph.release()
    done = fake_slack.wait_for("files.completeUploadExternal")
    assert uploaded_bytes(fake_slack, done) == fake_graph.csr().encode()
