"""Nobody's submission cancels someone else's request; a person's new request replaces their own."""

from __future__ import annotations

import json

from bot.core.requests import Status
from bot.slack.ids import Block
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import (
    approval_message,
    final_modal,
    pending_request,
    renewal,
    submit,
)
from tests.harness import LEAD_1, LEAD_2, REQUESTER, RunningBot


def test_another_persons_submission_is_refused_and_the_open_request_stays(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    first = pending_request(bot, fake_slack)  # the requester's
    fake_slack.reset_calls()
    submit(bot, fake_slack, renewal().pem, user=LEAD_2)
    refusal = json.dumps(final_modal(fake_slack, "already waiting for approval").params)
    assert first in refusal and f"<@{REQUESTER}>" in refusal and "can withdraw it" in refusal
    assert f"<@{LEAD_1}>" in refusal  # the approvers, who can reject it
    bot.wait_idle()
    assert fake_slack.calls_to("chat.postMessage") == []  # no second approval message
    assert fake_slack.calls_to("chat.update") == []  # and the first was not touched
    open_one = bot.deps.store.get_request(first)
    assert open_one is not None and open_one.status is Status.PENDING
    assert [r.id for r in bot.deps.store.list_requests("default", [Status.PENDING])] == [first]

    # once it is rejected, the other person's request goes through
    assert bot.deps.renewals.reject(first, LEAD_1, "wrong file") is None
    submit(bot, fake_slack, renewal().pem, user=LEAD_2)
    final_modal(fake_slack, "sent for approval")
    assert f"<@{LEAD_2}>" in json.dumps(approval_message(fake_slack).params)


def test_a_persons_new_request_replaces_only_their_own(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    first = pending_request(bot, fake_slack)
    fake_slack.reset_calls()
    second = pending_request(bot, fake_slack)
    assert second != first
    cancelled = bot.deps.store.get_request(first)
    assert cancelled is not None and cancelled.status is Status.CANCELLED
    assert cancelled.rejection is not None and cancelled.rejection.by == REQUESTER


def test_a_form_naming_an_unknown_tenant_is_refused_not_defaulted(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    ack = submit(bot, fake_slack, renewal().pem, metadata=json.dumps({"tenant": "gone"}))
    assert ack["response_action"] == "errors"
    assert "no longer serves" in ack["errors"][Block.CERTIFICATE]
    ack = submit(bot, fake_slack, renewal().pem, metadata="")
    assert ack["response_action"] == "errors"
    bot.wait_idle()
    assert fake_slack.calls_to("files.download") == []
    assert bot.deps.store.list_requests("default") == []
