"""Every pre-flight problem of a token file surfaces in the modal, and nothing is stored or posted;
what to renew is asked when the tenant has tokens; *Start renewal* of a token opens its form."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.ade_token import MAX_TOKEN_FILE_BYTES
from bot.slack.ids import Action, Block, Input, View
from tests.certgen import make_push_cert
from tests.clock import days
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_tokens import DEFAULT_VPP_EXPIRY, vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import (
    ADE_ID,
    VPP_ID,
    final_modal,
    submit_token,
    uploads,
)
from tests.harness import CHANNEL, LEAD_1, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

Maker = Callable[[FakeGraph], bytes]


def _duplicate(fake_graph: FakeGraph) -> bytes:
    twin = vpp_token(id="vpp-twin", display_name="Contoso Lyon", expires_at=days(365))
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [vpp_token(), twin])
    return vpp_token_file(expires_at=days(365))


BLOCKED: dict[str, tuple[str, Maker]] = {
    "not_a_vpp_token": ("vpp", lambda _: b"bm90IGEgdG9rZW4gYXQgYWxs"),
    "expired": ("vpp", lambda _: vpp_token_file(expires_at=days(-1))),
    "not_newer": ("vpp", lambda _: vpp_token_file(expires_at=DEFAULT_VPP_EXPIRY)),
    "organization_mismatch": ("vpp", lambda _: vpp_token_file("Fabrikam", days(365))),
    "duplicate_token": ("vpp", _duplicate),
    "private_key_present": ("vpp", lambda _: make_push_cert().with_key()),
    "not_an_ade_token": ("ade", lambda _: b"MIME-Version: 1.0\r\n\r\nnothing here\r\n"),
    "wrong_public_key": ("ade", lambda _: ade_token_file(intune_key(2), expires_at=days(365))),
}


@pytest.mark.parametrize("code", sorted(BLOCKED))
def test_each_blocking_problem_is_shown_in_the_modal_and_nothing_is_stored(
    code: str, bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    kind, make = BLOCKED[code]
    ack = submit_token(bot, fake_slack, kind, make(fake_graph))
    assert ack["response_action"] == "update"
    shown = final_modal(fake_slack, "cannot be used")
    assert f"`{code}`" in json.dumps(shown.params)
    bot.wait_idle()
    assert bot.deps.store.list_requests("default") == []
    assert not fake_slack.calls_to("chat.postMessage")
    assert uploads(fake_graph, kind) == []


def test_a_file_over_the_size_limit_is_refused_in_the_form_before_download(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    ack = submit_token(bot, fake_slack, "vpp", b"A" * (MAX_TOKEN_FILE_BYTES + 1))
    assert ack["response_action"] == "errors" and Block.TOKEN_FILE in ack["errors"]
    assert not fake_slack.calls_to("files.download") and not fake_slack.calls_to("views.update")


def test_an_ade_apple_id_that_is_not_one_is_a_field_error(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    content = ade_token_file(intune_key(1), expires_at=days(365))
    ack = submit_token(bot, fake_slack, "ade", content, apple_id="not an apple id")
    assert ack["response_action"] == "errors" and Block.APPLE_ID in ack["errors"]


def test_when_intunes_key_cannot_be_read_nothing_is_sent(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.inject("GET", "/getEncryptionPublicKey()", *[Fault.unavailable()] * 10)
    content = ade_token_file(intune_key(1), expires_at=days(365))
    submit_token(bot, fake_slack, "ade", content)
    shown = final_modal(fake_slack, ":warning:")
    print("SHOWN", json.dumps(shown.params)[:1500])
    assert "Nothing was sent" in json.dumps(shown.params) or "try again" in json.dumps(shown.params)
    bot.wait_idle()
    assert bot.deps.store.list_requests("default") == []


def test_a_form_for_a_token_intune_no_longer_has_is_refused(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    submit_token(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)), token_id="gone")
    shown = final_modal(fake_slack, "any more")
    assert "renew vpp" in json.dumps(shown.params)
    assert bot.deps.store.list_requests("default") == []


# --- what to renew ---------------------------------------------------------------------------------


def _chooser(fake_slack: FakeSlack) -> dict[str, object]:
    call = final_modal(fake_slack, View.RENEW_CHOOSE.value)
    view = call.params["view"]
    parsed: dict[str, object] = json.loads(view) if isinstance(view, str) else view
    return parsed


def _initial(view: dict[str, object]) -> str:
    for block in view["blocks"]:  # type: ignore[attr-defined]
        element = block.get("element") or {}
        if element.get("type") == "radio_buttons":
            return str(element["initial_option"]["value"])
    raise AssertionError("no radio buttons")


def test_renew_asks_what_to_renew_with_the_most_urgent_preselected(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [vpp_token(expires_at=days(5))])
    bot.slack.command("renew")
    view = _chooser(fake_slack)
    assert _initial(view) == f"vpp|{VPP_ID}"
    assert "ADE: Contoso ABM" in json.dumps(view) and "Apple push certificate" in json.dumps(view)

    choice: dict[str, Any] = {
        Block.RENEW_WHAT: {
            Input.VALUE: {"type": "radio_buttons", "selected_option": {"value": f"vpp|{VPP_ID}"}}
        }
    }
    metadata = str(view["private_metadata"])  # the tenant, and the channel it was opened from
    assert json.loads(metadata) == {"tenant": "default", "channel": CHANNEL}
    view_id = "V0CHOOSE1"
    fake_slack.view_changed(view_id)
    ack = bot.slack.submit(View.RENEW_CHOOSE, choice, private_metadata=metadata, view_id=view_id)
    assert ack.json()["response_action"] == "update"
    fake_slack.view_changed(view_id)
    form = final_modal(fake_slack, "Token (.vpptoken)")
    assert View.RENEW_TOKEN.value in json.dumps(form.params)


def test_choosing_the_push_certificate_shows_its_form(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    choice: dict[str, Any] = {
        Block.RENEW_WHAT: {
            Input.VALUE: {"type": "radio_buttons", "selected_option": {"value": "push"}}
        }
    }
    metadata = json.dumps({"tenant": "default", "channel": CHANNEL})
    fake_slack.view_changed("V0CHOOSE2")
    ack = bot.slack.submit(
        View.RENEW_CHOOSE, choice, private_metadata=metadata, view_id="V0CHOOSE2"
    ).json()
    assert ack["response_action"] == "update" and ack["view"]["callback_id"] == View.RENEW
    final_modal(fake_slack, "Renewed certificate from Apple")


def test_a_tenant_without_tokens_goes_straight_to_the_certificate_form(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", [])
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [])
    bot.slack.command("renew")
    form = final_modal(fake_slack, "Check and submit")
    assert f'"callback_id": "{View.RENEW.value}"' in json.dumps(form.params)


def test_start_renewal_naming_a_token_opens_that_tokens_form(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    response = bot.slack.click(
        Action.START_RENEWAL, f"default|ade|{ADE_ID}", LEAD_1, container="view"
    )
    assert response.status_code == 200
    opened = fake_slack.wait_for("views.open")
    assert View.RENEW_TOKEN.value in json.dumps(opened.params)
    form = final_modal(fake_slack, "Server token (.p7m)")
    assert ADE_ID in json.dumps(form.params)


def test_several_tokens_and_no_name_lists_them(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    second = vpp_token(id="vpp-2", display_name="Contoso Lyon", organization="Contoso Ltd")
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "vpp", [vpp_token(), second])
    bot.slack.command("renew vpp")
    shown = final_modal(fake_slack, "several")
    assert "Contoso Lyon" in json.dumps(shown.params)


def test_the_submission_is_acknowledged_while_graph_is_still_being_read(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    fake_graph.hold()  # every Graph answer waits: the checks cannot finish before the ack
    ack = submit_token(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    assert ack["response_action"] == "update" and "Checking" in json.dumps(ack["view"])
    fake_graph.wait_held()
    assert bot.deps.store.list_requests("default") == []  # nothing stored before the checks
    fake_graph.release()
    final_modal(fake_slack, "sent for approval")
    assert len(bot.deps.store.list_requests("default")) == 1
