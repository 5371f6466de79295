"""The App Home in delegated mode says who should sign in, and how, when nobody has."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.delegated_fixtures import delegated_fakes as delegated_fakes  # fixture
from tests.delegated_fixtures import start_delegated
from tests.fakes.slack_server import FakeSlack
from tests.harness import LEAD_1, RunningBot
from tests.slack_requests import TEAM, sign

pytestmark = pytest.mark.usefixtures("delegated_fakes")


def test_the_app_home_says_who_should_sign_in(
    start_bot: Callable[..., RunningBot], fake_slack: FakeSlack
) -> None:
    bot = start_delegated(start_bot)
    body = json.dumps(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM["id"],
            "api_app_id": "A0APNSBOT",
            "event": {
                "type": "app_home_opened",
                "user": LEAD_1,
                "channel": "D0LEADONE",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "type": "event_callback",
            "event_id": "Ev0DELEGATED1",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM["id"], "user_id": "U0APNSBOT", "is_bot": True}],
        }
    ).encode()
    assert bot.slack.post(body, {**sign(body), "Content-Type": "application/json"}).is_success
    home = fake_slack.wait_for(
        "views.publish", lambda c: "Nobody is signed in" in json.dumps(c.params)
    )
    assert home.params["user_id"] == LEAD_1 and "/apns signin" in json.dumps(home.params)
