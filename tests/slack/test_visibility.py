"""Who may see a tenant, surface by surface: outsider, channel member, approver, viewer.

Every case runs every surface (``/apns status``, ``csr``, ``history``, ``renew``, ``status all``,
the *Start renewal* and *Get CSR* buttons, the Home tab) and checks what reached Slack: the
certificate's facts, the CSR file and the renew form for those who may see the tenant; one
sentence, and none of those facts, for everyone else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.slack.ids import Action
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import Call, FakeSlack
from tests.fleet_fixtures import TENANTS, fleet_file
from tests.harness import CHANNEL, GROUP_LEAD, LEAD_1, LEAD_2, OUTSIDER, REQUESTER, RunningBot
from tests.slack.test_home import open_home, view_of

VIEWER = "U0VIEWER"
HELPDESK = "S0HELPDESK"
HELPDESK_MEMBER = "U0HELPDESKER"


@dataclass(frozen=True)
class Person:
    role: str
    user: str
    channel: str  # where they type and click
    sees: bool
    sees_home: bool  # the Home tab has no channel: only approvers and viewers


PEOPLE = [
    Person("outsider in a DM", OUTSIDER, "D0OUTSIDER", sees=False, sees_home=False),
    Person("outsider in another channel", OUTSIDER, "C0RANDOM", sees=False, sees_home=False),
    Person("member acting from the tenant's channel", REQUESTER, CHANNEL, True, False),
    Person("approver in a DM", LEAD_1, "D0LEADONE", sees=True, sees_home=True),
    Person("approver-group member in a DM", GROUP_LEAD, "D0GROUPLEAD", True, True),
    Person("viewer in a DM", VIEWER, "D0VIEWER", sees=True, sees_home=True),
    Person("viewer-group member in a DM", HELPDESK_MEMBER, "D0HELPDESK", True, True),
]


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot], fake_slack: FakeSlack) -> RunningBot:
    assert fake_slack.usergroups is not None
    fake_slack.usergroups[HELPDESK] = [HELPDESK_MEMBER]
    return start_bot(APNS_VIEWERS=f"{VIEWER},{HELPDESK}")


def answer(fake_slack: FakeSlack) -> str:
    """The next ephemeral answer (response_url), as text and blocks."""
    call = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    return json.dumps(call.params)


def secrets_of(fake_graph: FakeGraph, bot: RunningBot) -> list[str]:
    entity = fake_graph.entity(bot.settings.default_tenant.tenant_id)
    return [entity["appleIdentifier"], entity["topicIdentifier"], entity["certificateSerialNumber"]]


def assert_refused(text: str, facts: list[str]) -> None:
    assert ":lock:" in text and "APNS_VIEWERS" in text and f"<#{CHANNEL}>" in text, text
    for fact in facts:
        assert fact not in text


@pytest.mark.parametrize("person", PEOPLE, ids=[p.role for p in PEOPLE])
def test_each_surface_shows_the_tenant_only_to_those_who_may_see_it(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, person: Person
) -> None:
    facts = secrets_of(fake_graph, bot)
    tenant_id = bot.settings.default_tenant.tenant_id
    token_facts = [
        fake_graph.apple_tokens.get(tenant_id, "ade")[0]["appleIdentifier"],
        fake_graph.apple_tokens.get(tenant_id, "vpp")[0]["appleId"],
    ]
    bot.deps.store.audit("default", "csr_sent", LEAD_1, bot.clock(), detail={"bytes": 1})

    def command(text: str) -> str:
        fake_slack.reset_calls()
        bot.slack.command(text, user=person.user, channel=person.channel)
        return answer(fake_slack)

    # /apns status and /apns status all
    for text in ("status", "status all"):
        shown = command(text)
        if person.sees and text == "status":
            assert all(fact in shown for fact in facts[1:]) or facts[0] in shown, shown
        elif person.sees:  # the most urgent item: here the tenant's VPP token, with its Apple ID
            assert "(`default`)" in shown and token_facts[1] in shown, shown
        elif text == "status":
            assert_refused(shown, facts + token_facts)
        else:
            assert "No tenant is shown to you" in shown
            assert not any(fact in shown for fact in [facts[0], *token_facts])

    # /apns history
    shown = command("history")
    if person.sees:
        assert "csr sent" in shown
    else:
        assert_refused(shown, facts)
        assert "csr sent" not in shown

    # /apns csr: the file in a DM, or the sentence and no file
    shown = command("csr")
    if person.sees:
        assert fake_slack.wait_for("files.completeUploadExternal")
    else:
        assert_refused(shown, facts)
        assert fake_slack.calls_to("files.getUploadURLExternal") == []

    # /apns renew: the form (which shows the Apple ID and topic), or the sentence
    fake_slack.reset_calls()
    bot.slack.command("renew", user=person.user, channel=person.channel)
    if person.sees:
        fake_slack.wait_for("views.open")
    else:
        assert_refused(answer(fake_slack), facts)
        assert fake_slack.calls_to("views.open") == []

    # /apns renew vpp: a token's form (its organisation, Apple ID, expiry), or the sentence
    fake_slack.reset_calls()
    bot.slack.command("renew vpp", user=person.user, channel=person.channel)
    if person.sees:
        fake_slack.wait_for("views.open")
    else:
        assert_refused(answer(fake_slack), facts)
        assert fake_slack.calls_to("views.open") == []

    # the buttons on a reminder, clicked where the person is
    for action in (Action.START_RENEWAL, Action.GET_CSR):
        fake_slack.reset_calls()
        bot.slack.click(action, "default", person.user, channel=person.channel)
        if person.sees:
            method = (
                "views.open" if action is Action.START_RENEWAL else "files.completeUploadExternal"
            )
            fake_slack.wait_for(method)
        else:
            assert_refused(answer(fake_slack), facts)
            assert fake_slack.calls_to("views.open") == []
            assert fake_slack.calls_to("files.getUploadURLExternal") == []


@pytest.mark.parametrize("person", PEOPLE[2:], ids=[p.role for p in PEOPLE[2:]])
def test_the_home_tab_and_its_buttons_show_the_tenant_to_approvers_and_viewers_only(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph, person: Person
) -> None:
    facts = secrets_of(fake_graph, bot)
    open_home(bot, person.user)
    tab = json.dumps(view_of(published_to(fake_slack, person.user)))
    assert (facts[1] in tab) is person.sees_home
    if not person.sees_home:
        assert ":lock:" in tab and not any(fact in tab for fact in facts)

    fake_slack.reset_calls()
    bot.slack.click(Action.START_RENEWAL, "default", person.user, container="view")
    bot.slack.click(Action.GET_CSR, "default", person.user, container="view")
    if person.sees_home:
        fake_slack.wait_for("views.open")
        fake_slack.wait_for("files.completeUploadExternal")
    else:
        told = fake_slack.wait_for(
            "response_url", lambda c: len(fake_slack.calls_to("response_url")) >= 2
        )
        for call in [told, *fake_slack.calls_to("response_url")]:
            assert_refused(call.params["text"], facts)
        assert fake_slack.calls_to("views.open") == []
        assert fake_slack.calls_to("files.getUploadURLExternal") == []


def published_to(fake_slack: FakeSlack, user: str) -> Call:
    return fake_slack.wait_for("views.publish", lambda c: c.params.get("user_id") == user)


def test_a_lead_of_one_tenant_sees_only_that_tenant_in_a_fleet(
    start_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    tmp_path: Path,
) -> None:
    env = fleet_file(tmp_path, fake_graph, approvers={"contoso": [LEAD_1], "fabrikam": [LEAD_2]})
    fleet = start_bot(**env)
    fleet.slack.command("status all", user=LEAD_2, channel="D0LEADTWO")
    listed = answer(fake_slack)
    assert "1 tenant:" in listed and "`fabrikam`" in listed
    assert not any(f"`{name}`" in listed for name in TENANTS if name != "fabrikam")

    fake_slack.reset_calls()
    fleet.slack.command("history contoso", user=LEAD_2, channel="D0LEADTWO")
    refused = answer(fake_slack)
    assert ":lock:" in refused and "contoso" in refused

    fake_slack.reset_calls()
    open_home(fleet, LEAD_2)
    tab = json.dumps(view_of(published_to(fake_slack, LEAD_2)))
    assert "fabrikam" in tab and "contoso" not in tab and "tailspin" not in tab
