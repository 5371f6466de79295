"""Request rules as they apply to tokens: the pending rule is per target (a pending VPP request
does not block an ADE one), and APNS_REQUIRED_APPROVALS counts for token requests too."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.core.requests import Status
from bot.slack.ids import Action
from tests.clock import days
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import pending_token_request, renewed_notice, submit_token, uploads
from tests.harness import LEAD_1, LEAD_2, RunningBot
from tests.tokengen import ade_token_file, intune_key, vpp_token_file


def test_someone_elses_pending_vpp_request_does_not_block_an_ade_one(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    vpp_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    content = ade_token_file(intune_key(1), expires_at=days(365))
    seen = {id(c) for c in fake_slack.calls_to("views.update")}
    submit_token(bot, fake_slack, "ade", content, user=LEAD_2)
    fake_slack.wait_for(
        "views.update", lambda c: id(c) not in seen and "sent for approval" in json.dumps(c.params)
    )
    pending = bot.deps.store.list_requests("default", [Status.PENDING])
    assert {r.id for r in pending} >= {vpp_id}
    kinds = sorted(r.token.kind.value for r in pending if r.token is not None)
    assert kinds == ["ade", "vpp"]
    [ade] = [r for r in pending if r.token is not None and r.token.kind.value == "ade"]
    assert ade.requester == LEAD_2


def test_two_required_approvals_hold_a_token_upload_until_the_second(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_REQUIRED_APPROVALS="2")
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file(expires_at=days(365)))
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    bot.wait_idle()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.PENDING
    assert uploads(fake_graph, "vpp") == []

    bot.slack.click(Action.APPROVE, request_id, LEAD_2)
    renewed_notice(fake_slack)
    bot.wait_idle()
    request = bot.deps.store.get_request(request_id)
    assert request is not None and request.status is Status.APPLIED
    assert len(uploads(fake_graph, "vpp")) == 1
