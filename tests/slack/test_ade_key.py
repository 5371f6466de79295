"""``/apns ade-key [NAME]`` and *Get public key*: Intune's ADE key reaches the requester's DM as a
``.pem`` with the Apple Business Manager steps, through the fake Slack and the fake Graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bot.core.ade_token import encrypted_to, read_ade_token, read_intune_key
from bot.slack.ids import Action
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_tokens import ade_token
from tests.fakes.slack_server import Call, FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.harness import LEAD_1, OUTSIDER, REQUESTER, RunningBot
from tests.tokengen import ade_token_file, intune_key

DEFAULT_ID = ade_token()["id"]


def uploaded(fake_slack: FakeSlack) -> tuple[Call, bytes]:
    done = fake_slack.wait_for("files.completeUploadExternal")
    files = done.params["files"]
    [entry] = json.loads(files) if isinstance(files, str) else files
    return done, bytes(fake_slack.uploads[entry["id"]]["content"])


def final_answer(fake_slack: FakeSlack) -> str:
    call = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    return str(call.params["text"])


def two_tokens(fake_graph: FakeGraph) -> None:
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID,
        "ade",
        [
            ade_token(id="ade-main", name="Contoso ABM"),
            ade_token(id="ade-school", name="Contoso ASM"),
        ],
    )
    fake_graph.token_writes.set_key(FAKE_TENANT_ID, "ade-school", intune_key(4))


def test_ade_key_sends_intunes_key_as_a_pem_with_the_steps(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    response, _ = bot.slack.command("ade-key")
    assert response.json()["response_type"] == "ephemeral"
    assert "Getting Intune's public key" in response.json()["text"]

    done, content = uploaded(fake_slack)
    assert content == intune_key(1).pem.encode()
    token = read_ade_token(ade_token_file(intune_key(1)))
    assert encrypted_to(token, read_intune_key(content.decode()))  # the key Apple must use
    [asked] = fake_slack.calls_to("files.getUploadURLExternal")
    assert asked.params["filename"] == "Intune_ADE_key_Contoso_ABM.pem"
    assert done.params["channel_id"] == fake_slack.ims[REQUESTER]
    comment = done.params["initial_comment"]
    for fact in (
        "Contoso ABM",
        "https://business.apple.com",
        "Upload Public Key",
        "Download Token",
        "apns-bot inspect-token",
        "abm-admin@contoso.example",
        intune_key(1).serial,
        "/apns renew ade",  # the coming Slack upload, with approval; by hand until then
        "Renew token",
    ):
        assert fact in comment, fact
    assert "`Intune_ADE_key_Contoso_ABM.pem` is in your direct messages" in final_answer(fake_slack)
    [event] = [e for e in bot.deps.store.history("default") if e.event == "ade_key_sent"]
    assert event.actor == REQUESTER
    assert event.detail == {"ade_id": DEFAULT_ID, "bytes": len(content)}
    [read] = fake_graph.requests_to("/getEncryptionPublicKey()", "GET")
    assert (
        read.path
        == f"/beta/deviceManagement/depOnboardingSettings/{DEFAULT_ID}/getEncryptionPublicKey()"
    )
    assert [r.method for r in fake_graph.graph_requests()] == ["GET", "GET"]  # reads only


def test_with_several_tokens_the_name_picks_one(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    two_tokens(fake_graph)
    bot.slack.command("ade-key")
    text = final_answer(fake_slack)
    assert "several ADE tokens" in text and "`Contoso ABM`" in text and "`Contoso ASM`" in text
    assert fake_slack.calls_to("files.getUploadURLExternal") == []

    bot.slack.command("ade-key contoso   asm")
    _, content = uploaded(fake_slack)
    assert content == intune_key(4).pem.encode()


def test_an_unknown_name_lists_the_tokens(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    two_tokens(fake_graph)
    bot.slack.command("ade-key <!channel> Fabrikam")
    text = final_answer(fake_slack)
    assert "No ADE token named" in text and "Contoso ASM" in text
    assert "<!channel>" not in text  # the typed name is escaped


def test_a_tenant_without_ade_tokens_is_told_where_to_add_one(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", [])
    bot.slack.command("ade-key")
    assert "has no ADE token" in final_answer(fake_slack)
    assert fake_graph.requests_to("/getEncryptionPublicKey()") == []


def test_graph_refusing_the_key_is_said_without_uploading(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.inject("GET", "/getEncryptionPublicKey()", Fault.forbidden())
    bot.slack.command("ade-key")
    text = final_answer(fake_slack)
    assert "could not be downloaded" in text and "DeviceManagementServiceConfig" in text
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_a_503_reading_the_key_is_retried(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.inject("GET", "/getEncryptionPublicKey()", Fault.unavailable())
    bot.slack.command("ade-key")
    _, content = uploaded(fake_slack)
    assert content == intune_key(1).pem.encode()
    assert len(fake_graph.requests_to("/getEncryptionPublicKey()")) == 2


def test_an_outsider_gets_one_sentence_and_no_key(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot.slack.command("ade-key", user=OUTSIDER, channel="D0OUTSIDER")
    text = final_answer(fake_slack)
    assert text.startswith(":lock:") and "Contoso ABM" not in text
    assert fake_graph.requests_to("/getEncryptionPublicKey()") == []
    assert fake_slack.calls_to("files.getUploadURLExternal") == []


def test_the_get_public_key_button_dms_the_clicker(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    two_tokens(fake_graph)
    bot.slack.click(Action.GET_ADE_KEY, "default|ade-school", LEAD_1, channel="D0LEADONE")
    done, content = uploaded(fake_slack)
    assert content == intune_key(4).pem.encode()
    assert done.params["channel_id"] == fake_slack.ims[LEAD_1]
    answer = fake_slack.wait_for("response_url")
    assert answer.params["replace_original"] is False


def test_a_slow_graph_does_not_delay_the_acknowledgement(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()
    response, _ = bot.slack.command("ade-key")
    assert response.status_code == 200
    fake_graph.wait_held()
    assert fake_slack.calls_to("files.getUploadURLExternal") == []
    fake_graph.release()
    _, content = uploaded(fake_slack)
    assert content == intune_key(1).pem.encode()


def test_a_key_graph_sends_without_armour_is_sent_as_pem(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.token_writes.bare_key = True
    bot.slack.command("ade-key")
    _, content = uploaded(fake_slack)
    assert content == intune_key(1).pem.encode()


def test_the_shell_command_in_the_steps_names_the_token_by_id_not_by_its_name(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    # an admin chooses the token's name in Intune: it must never land inside a shell command
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "ade", [ade_token(id="ade-odd", name='ABM"; rm -rf ~; echo "')]
    )
    bot.slack.command("ade-key")
    done, _ = uploaded(fake_slack)
    comment = str(done.params["initial_comment"])
    assert "apns-bot inspect-token <file> --against-graph --token ade-odd`" in comment
    assert "rm -rf" not in comment.split("`apns-bot", 1)[1].split("`", 1)[0]


def test_a_token_name_starting_with_the_tenants_name_is_found(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    running = start_bot(**fleet_file(tmp_path, fake_graph, viewers=[REQUESTER]))
    fake_graph.apple_tokens.set(
        TENANTS["contoso"],
        "ade",
        [ade_token(id="ade-main", name="Contoso ABM"), ade_token(id="ade-2", name="Other")],
    )
    fake_graph.token_writes.set_key(TENANTS["contoso"], "ade-main", intune_key(4))
    # "contoso" is taken as the tenant; "abm" alone names no token, "contoso abm" does
    running.slack.command("ade-key contoso abm", channel="C0ELSEWHERE")
    _, content = uploaded(fake_slack)
    assert content == intune_key(4).pem.encode()
