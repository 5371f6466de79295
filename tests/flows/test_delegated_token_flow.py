"""A token renewal under delegated sign-in: the approving lead signs in, and the token is uploaded
as them, exactly as a certificate is (tests/flows/test_delegated_flow.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.requests import Status
from bot.slack.ids import Action
from tests.delegated_fixtures import (
    EMAILS,
    poll,
    prompt_for,
    sign_in,
    start_delegated,
    user_code_in,
)
from tests.delegated_fixtures import delegated_fakes as delegated_fakes  # fixture
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.token_flow import pending_token_request, renewed_notice, uploads
from tests.harness import LEAD_1, LEAD_2, RunningBot
from tests.tokengen import vpp_token_file

pytestmark = pytest.mark.usefixtures("delegated_fakes")


def test_a_vpp_token_is_uploaded_as_the_approver_once_they_signed_in(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    bot = start_delegated(start_bot)
    sign_in(bot, fake_slack, fake_graph, LEAD_2)  # the pre-flight reads the current token
    request_id = pending_token_request(bot, fake_slack, "vpp", vpp_token_file())
    before = len(fake_slack.calls)
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    code = user_code_in(prompt_for(fake_slack, before).params["text"])
    waiting = bot.deps.store.get_request(request_id)
    assert waiting is not None and waiting.status is Status.APPROVED
    assert uploads(fake_graph, "vpp") == []  # nothing goes out before the approver signed in

    fake_graph.delegated.sign_in(code, EMAILS[LEAD_1])
    poll(bot)
    renewed_notice(fake_slack)
    [upload] = uploads(fake_graph, "vpp")
    assert fake_graph.token_user(upload) == EMAILS[LEAD_1]
    done = bot.deps.store.get_request(request_id)
    assert done is not None and done.status is Status.APPLIED
