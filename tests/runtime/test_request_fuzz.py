"""A thousand random signed payloads through the real HTTP server: never a 500, never a traceback.

Signed, so they pass the gate's first steps and reach the parser, the shape check, Bolt and the
listeners; shaped loosely like Slack's, so many of them match a real listener.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack.ids import Action, Block, Input, View
from tests.harness import RunningBot
from tests.slack_requests import SIGNING_SECRET, sign

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
# one level of nesting is enough to put a list or an object where a string is expected, and
# much cheaper to draw than st.recursive
json_values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=8), scalars, max_size=3)
)
anything = json_values | st.text(max_size=30)
ids = st.sampled_from(["U0REQUESTER", "U0LEADONE", "U0OUTSIDER", "", "U" * 40]) | st.text(
    max_size=12
)
words = st.sampled_from(
    ["status", "csr", "renew", "history", "help", "all", "default", "signin", "x" * 300]
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, anything)


commands = st.fixed_dictionaries(
    {
        "command": st.sampled_from(["/apns", "/other"]),
        "text": st.lists(words | st.text(max_size=12), max_size=4).map(" ".join),
        "user_id": ids,
        "channel_id": st.sampled_from(["C0APNSOPS", "D0DIRECT", ""]),
        "trigger_id": st.text(max_size=10),
    },
    optional={"response_url": st.text(max_size=20)},
).map(lambda form: urlencode(form).encode())

actions = st.fixed_dictionaries(
    {"action_id": maybe(st.sampled_from(list(Action))), "value": maybe(st.text(max_size=40))},
    optional={"block_id": anything, "type": anything},
)
views = st.fixed_dictionaries(
    {
        "id": maybe(st.just("V0MODAL01")),
        "callback_id": maybe(st.sampled_from(list(View))),
        "private_metadata": maybe(
            st.sampled_from(
                ['{"tenant": "nope"}', '{"request_id": 5}', "{", '{"tenant": "default"}']
            )
        ),
        "state": maybe(
            st.fixed_dictionaries(
                {
                    "values": maybe(
                        st.dictionaries(
                            st.sampled_from(list(Block)),
                            st.dictionaries(st.sampled_from(list(Input)), json_values, max_size=2),
                            max_size=4,
                        )
                    )
                }
            )
        ),
    }
)
interactive = st.fixed_dictionaries(
    {
        "type": maybe(
            st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut"])
        ),
        "user": maybe(st.fixed_dictionaries({"id": maybe(ids)})),
        "trigger_id": maybe(st.text(max_size=10)),
    },
    optional={
        "actions": maybe(st.lists(actions, max_size=2)),
        "view": maybe(views),
        "response_url": anything,
        "container": anything,
        "channel": anything,
        "team": anything,
        "enterprise": anything,
    },
).map(lambda payload: urlencode({"payload": json.dumps(payload)}).encode())

events = st.fixed_dictionaries(
    {
        "type": maybe(st.sampled_from(["event_callback", "url_verification"])),
        "event": maybe(
            st.fixed_dictionaries(
                {
                    "type": st.just("app_home_opened"),
                    "user": maybe(ids),
                    "tab": maybe(st.just("home")),
                }
            )
        ),
    },
    optional={"challenge": anything, "authorizations": anything, "team_id": anything},
).map(lambda body: json.dumps(body).encode())

bodies = commands | interactive | events | st.binary(max_size=200)
EXAMPLES, BATCH = 20, 50


@pytest.fixture
def client() -> Any:
    with httpx.Client(timeout=10) as session:
        yield session


def test_random_signed_payloads_never_get_a_500_or_a_traceback(
    bot: RunningBot, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: set[int] = set()

    sent: list[int] = []

    # 20 examples of 50 bodies: 1,000 payloads for a fraction of hypothesis's per-example cost
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(batch=st.lists(bodies, min_size=BATCH, max_size=BATCH))
    def post(batch: list[bytes]) -> None:
        for body in batch:
            answer = client.post(bot.url, content=body, headers=sign(body, SIGNING_SECRET))
            sent.append(answer.status_code)
            statuses.add(answer.status_code)
            assert answer.status_code < 500, body[:300]

    with caplog.at_level(logging.ERROR):  # tracebacks are logged at ERROR
        post()
        bot.wait_idle()
    assert len(sent) >= EXAMPLES * BATCH
    assert statuses - {400, 401}, statuses  # some reached Bolt: the fuzz is not all refused
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks][:5]
