"""/apns help and status as signed HTTP requests to the running bot (HTTP mode under waitress)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_shapes import DEFAULT_EXPIRY
from tests.fakes.slack_server import APP_TOKEN, FakeSlack
from tests.harness import RunningBot
from tests.slack_requests import sign


def _blocks_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks)


def test_status_is_acknowledged_at_once_then_answered_with_the_certificate(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    response, response_url = bot.slack.command("status")
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"

    answer = fake_slack.wait_for("response_url")
    assert response_url.endswith(answer.params["_path"])
    body = answer.params
    assert body["response_type"] == "ephemeral"
    assert body["replace_original"] is True
    blocks = _blocks_text(body["blocks"])
    assert "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20" in blocks
    assert "0B7002EFEA6BA6D0" in blocks
    assert "mdm-admin@contoso.example" in blocks
    assert f"{DEFAULT_EXPIRY:%Y-%m-%d}" in blocks
    assert body["blocks"][0]["type"] == "header"
    assert len(fake_graph.requests_to("applePushNotificationCertificate", "GET")) == 1


def test_status_is_acknowledged_before_graph_answers(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()  # Graph answers only when the test says so
    response, _ = bot.slack.command("status")
    assert response.status_code == 200  # acknowledged while the read is still unanswered
    fake_graph.wait_held()
    assert fake_slack.calls_to("response_url") == []
    fake_graph.release()
    answer = fake_slack.wait_for("response_url")
    assert "0B7002EFEA6BA6D0" in _blocks_text(answer.params["blocks"])


def test_status_shows_a_graph_permission_error_without_a_traceback(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.set_permission("None")
    bot.slack.command("status")
    answer = fake_slack.wait_for("response_url")
    text = answer.params["text"]
    assert "DeviceManagementServiceConfig" in text
    assert "Traceback" not in text and "Error(" not in text


def test_status_of_a_tenant_without_certificate_says_how_to_start(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.clear_certificate()
    bot.slack.command("status")
    answer = fake_slack.wait_for("response_url")
    assert "No Apple push certificate" in answer.params["text"]
    assert "/apns csr" in answer.params["text"]


def test_help_and_empty_text_list_the_commands(bot: RunningBot) -> None:
    for text in ("help", ""):
        response, _ = bot.slack.command(text)
        body = response.json()
        assert body["response_type"] == "ephemeral"
        for verb in ("status", "csr", "renew", "history"):
            assert f"/apns {verb}" in body["text"]


def test_the_word_payload_anywhere_in_a_command_is_no_obstacle(bot: RunningBot) -> None:
    """Bolt took any form body holding the substring "payload" for an interactivity payload and
    dropped the command (404, Slack's "failed"): in the text, a channel or a user name."""
    response, _ = bot.slack.command("payload")
    assert response.status_code == 200 and "I don't know `payload`" in response.json()["text"]
    for field in ("channel_name", "user_name", "team_domain"):
        response, _ = bot.slack.command("help", **{field: "payload-team"})
        assert response.status_code == 200, field
        assert "/apns status" in response.json()["text"], field


def test_an_unknown_word_gets_the_help_naming_it(bot: RunningBot) -> None:
    response, _ = bot.slack.command("renwe")
    body = response.json()
    assert "I don't know `renwe`" in body["text"]
    assert "/apns renew" in body["text"]


def test_a_request_with_a_bad_signature_is_refused(bot: RunningBot) -> None:
    body = b"command=%2Fapns&text=status&user_id=U0REQUESTER"
    headers = sign(body, secret="not-the-signing-secret")
    response = bot.slack.post(body, headers)
    assert response.status_code == 401


def test_a_replayed_request_older_than_five_minutes_is_refused(bot: RunningBot) -> None:
    body = b"command=%2Fapns&text=status&user_id=U0REQUESTER"
    response = bot.slack.post(body, sign(body, timestamp=int(time.time()) - 600))
    assert response.status_code == 401


def test_healthz_answers_without_touching_slack_or_graph(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    base = bot.url.rsplit("/slack/events", 1)[0]
    response = httpx.get(f"{base}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert httpx.get(f"{base}/nope", timeout=5).status_code == 404
    assert fake_slack.calls == [] and fake_graph.graph_requests() == []


def test_http_mode_verifies_signatures_even_when_an_app_token_is_set(
    start_bot: Callable[..., RunningBot],
) -> None:
    bot = start_bot(SLACK_APP_TOKEN=APP_TOKEN)
    body = b"command=%2Fapns&text=help&user_id=U0REQUESTER&response_url=https%3A%2F%2Fhooks.example%2Fx"
    unsigned = bot.slack.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 401
    assert bot.slack.post(body).status_code == 200
