"""ADE and Apps and Books (VPP) tokens through the fake Graph and fake Slack, with a real SQLite file.

Each kind: healthy, inside the window, expired, invalid state, failing sync, several tokens, none,
a 403 for that kind only, paging; reminders once across a restart (across two replicas on one
database: ``test_token_watch_edges``); changes made outside the bot; what the messages say.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

import pytest

from bot.core.reminders import CheckState
from bot.core.tokens import CredentialKind
from bot.slack.views.token_messages import BREAKS
from bot.usecases.watch import CheckResult
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph
from tests.fakes.graph_shapes import CERT_PATH
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH, ade_token, vpp_token
from tests.fakes.slack_server import Call, FakeSlack
from tests.harness import CHANNEL, LEAD_1, MovableClock, RunningBot
from tests.slack.test_home import open_home, published, view_of

Kind = Literal["ade", "vpp"]
KINDS: tuple[Kind, Kind] = ("ade", "vpp")
PATHS = {"ade": ADE_PATH, "vpp": VPP_PATH}
APPLE_IDS = {"ade": "abm-admin@contoso.example", "vpp": "apps-admin@contoso.example"}
# What a reminder must tell, word for word: what breaks, then renewal steps (the user's words)
MUST_SAY = {
    "ade": (
        "new iPhones, iPads and Macs can no longer enroll through Automated Device Enrollment",
        "enrolled devices keep working",
        "*Download Token* (a `.p7m` file)",
        "upload the `.p7m` and save",
    ),
    "vpp": (
        "app licences stop syncing",
        "fail to install or update",
        "Payments and Billing",
        "download the server token",
        "upload the `.vpptoken` file",
    ),
}


def token(kind: Kind, clock: MovableClock, days: float, **props: Any) -> dict[str, Any]:
    """A token of ``kind`` expiring ``days`` after the clock's now."""
    expiry = (clock() + timedelta(days=days)).replace(microsecond=0)
    if kind == "ade":
        return ade_token(expires_at=expiry, **props)
    if "name" in props:
        props["display_name"] = props.pop("name")
    return vpp_token(expires_at=expiry, **props)


def set_tokens(fake_graph: FakeGraph, kind: Kind, tokens: list[dict[str, Any]]) -> None:
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, tokens)


def check(bot: RunningBot) -> CheckResult:
    return bot.deps.watch.check(bot.settings.default_tenant)


def token_posts(result: CheckResult) -> list[str]:
    return [p for p in result.posted if p.startswith(("ade ", "vpp "))]


def posts(fake_slack: FakeSlack, needle: str = "") -> list[Call]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if needle in json.dumps(c.params) and c.params.get("channel") == CHANNEL
    ]


def read_of(result: CheckResult, kind: Kind) -> Any:
    [read] = [r for r in result.tokens if r.kind.value == kind]
    return read


@pytest.mark.parametrize("kind", KINDS)
def test_healthy_tokens_are_read_and_say_nothing(bot: RunningBot, kind: Kind) -> None:
    result = check(bot)
    assert result.state is CheckState.OK and result.posted == ()
    assert [r.kind for r in result.tokens] == [CredentialKind.ADE, CredentialKind.VPP]
    [found] = read_of(result, kind).tokens
    assert found.apple_id == APPLE_IDS[kind] and read_of(result, kind).error is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_inside_the_window_is_reminded_once_across_a_restart(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
) -> None:
    bot = start_bot()
    set_tokens(fake_graph, kind, [token(kind, clock, 29.5)])
    first = check(bot)
    assert first.state is CheckState.ATTENTION and token_posts(first) == [f"{kind} reminder 30"]
    assert check(bot).posted == ()
    assert check(start_bot()).posted == ()  # same database, as after a redeploy
    [reminder] = posts(fake_slack, "expires soon")
    text = json.dumps(reminder.params)
    label = CredentialKind(kind).label
    name = "Contoso ABM" if kind == "ade" else "Contoso Apps and Books"
    assert label in text and name in text and APPLE_IDS[kind] in text
    assert BREAKS[CredentialKind(kind)] in text
    assert [words for words in MUST_SAY[kind] if words not in text] == []
    assert "Apple Business Manager" in text and "Intune admin center" in text
    clock.advance(days=23)  # 6 days left: the next threshold, with the approvers mentioned
    assert token_posts(check(bot)) == [f"{kind} reminder 7"]
    assert "<@" in json.dumps(posts(fake_slack, "expires soon")[-1].params["text"])


@pytest.mark.parametrize("kind", KINDS)
def test_an_expired_token_is_posted_on_days_0_7_and_30_then_never_again(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    """A superseded token left in Intune must not remind the channel, with mentions, forever."""
    set_tokens(fake_graph, kind, [token(kind, clock, -2)])
    result = check(bot)
    assert result.state is CheckState.ATTENTION
    assert token_posts(result) == [f"{kind} reminder expired-0"]
    assert "has expired" in json.dumps(posts(fake_slack, "EXPIRED")[0].params)
    posted: list[str] = []
    for step in [1] * 40 + [30] * 12:  # daily checks for 40 days, then monthly for a year
        clock.advance(days=step)
        result = check(bot)
        assert result.state is CheckState.ATTENTION  # status and check still say it
        posted += [p for p in token_posts(result) if p.startswith(f"{kind} ")]
    assert posted == [f"{kind} reminder expired-7", f"{kind} reminder expired-30"]
    last = posts(fake_slack, f"{CredentialKind(kind).label} EXPIRED")[-1].params
    assert "<@" in last["text"] and "last reminder" in json.dumps(last)


def test_a_vpp_token_whose_state_is_not_valid_is_a_problem_posted_once(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock
) -> None:
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 200, state="assignedToExternalMDM")])
    result = check(bot)
    assert result.state is CheckState.ATTENTION and token_posts(result) == ["vpp problem state"]
    assert check(bot).posted == ()
    [notice] = posts(fake_slack, "assignedToExternalMDM")
    assert "not valid" in json.dumps(notice.params) and "<@" in notice.params["text"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_failing_for_more_than_a_day_is_a_problem_posted_once(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    failing: dict[str, Any] = (
        {"sync_error_code": 6002} if kind == "ade" else {"last_sync_status": "failed"}
    )
    set_tokens(
        fake_graph,
        kind,
        [token(kind, clock, 200, last_sync=clock() - timedelta(hours=5), **failing)],
    )
    assert check(bot).posted == ()  # Intune retries: not a problem yet
    clock.advance(days=1, hours=1)  # ADE: a day since the last success; VPP: since first seen
    assert token_posts(check(bot)) == [f"{kind} problem sync"]
    assert check(bot).posted == ()
    [notice] = posts(fake_slack, "sync")
    assert "failing since" in json.dumps(notice.params)


def test_a_vpp_sync_retried_every_few_hours_is_a_problem_once_after_a_day(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock
) -> None:
    """VPP's ``lastSyncDateTime`` is the last attempt, not the last success: Intune retries a
    failed sync, so it moves forward every check while ``lastSyncStatus`` stays ``failed``. The
    problem is timed from when the watch first saw the failure, and posted once."""
    first_seen = clock()
    expiry = (first_seen + timedelta(days=200)).replace(microsecond=0)
    posted: list[str] = []
    for _ in range(16):  # four days of checks six hours apart, each after a fresh failed attempt
        attempt = clock() - timedelta(minutes=20)
        failing = vpp_token(expires_at=expiry, last_sync=attempt, last_sync_status="failed")
        set_tokens(fake_graph, "vpp", [failing])
        posted += [f"{clock() - first_seen}: {p}" for p in token_posts(check(bot))]
        clock.advance(hours=6)
    assert posted == ["1 day, 6:00:00: vpp problem sync"]
    [notice] = posts(fake_slack, "sync")
    assert f"failing since {first_seen:%Y-%m-%d}" in json.dumps(notice.params)


@pytest.mark.parametrize("kind", KINDS)
def test_several_tokens_each_get_their_own_reminder(
    bot: RunningBot, fake_graph: FakeGraph, clock: MovableClock, kind: Kind
) -> None:
    tokens = [
        token(kind, clock, 20, id=f"{kind}-1", name="First"),
        token(kind, clock, 200, id=f"{kind}-2", name="Second"),
        token(kind, clock, 5, id=f"{kind}-3", name="Third"),
    ]
    set_tokens(fake_graph, kind, tokens)
    result = check(bot)
    assert sorted(token_posts(result)) == [f"{kind} reminder 30", f"{kind} reminder 7"]
    assert len(read_of(result, kind).tokens) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_no_token_of_a_kind_is_fine(bot: RunningBot, fake_graph: FakeGraph, kind: Kind) -> None:
    set_tokens(fake_graph, kind, [])
    result = check(bot)
    assert result.state is CheckState.OK and result.posted == ()
    assert read_of(result, kind).tokens == () and read_of(result, kind).ok


@pytest.mark.parametrize("kind", KINDS)
def test_a_403_for_one_kind_is_posted_once_and_hides_no_other_kind(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    other: Kind = "vpp" if kind == "ade" else "ade"
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind)
    set_tokens(fake_graph, other, [token(other, clock, 10)])
    result = check(bot)
    assert result.state is CheckState.FAILED  # exit 2: part of the check failed
    assert result.certificate is not None and result.error is None
    assert sorted(token_posts(result)) == sorted([f"{kind} read failed", f"{other} reminder 14"])
    error = read_of(result, kind).error
    assert error.code == "Forbidden" and "DeviceManagementServiceConfig" in error.message
    assert check(bot).posted == ()  # reported once per streak
    [failed] = posts(fake_slack, "I cannot read the")
    assert CredentialKind(kind).label in failed.params["text"]

    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind, denied=False)  # the permission is granted
    recovered = check(bot)
    assert recovered.state is CheckState.ATTENTION and read_of(recovered, kind).ok
    clock.advance(hours=2)
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind)  # a new streak is reported again
    assert f"{kind} read failed" in check(bot).posted


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_is_read(
    bot: RunningBot, fake_graph: FakeGraph, clock: MovableClock, kind: Kind
) -> None:
    fake_graph.apple_tokens.page_size = 1
    tokens = [token(kind, clock, 20 + n, id=f"{kind}-{n}", name=f"Token {n}") for n in range(3)]
    set_tokens(fake_graph, kind, tokens)
    result = check(bot)
    assert [t.id for t in read_of(result, kind).tokens] == [f"{kind}-{n}" for n in range(3)]
    assert token_posts(result) == [f"{kind} reminder 30"] * 3
    assert len(fake_graph.requests_to(PATHS[kind], "GET")) == 3


def test_a_refused_token_reminder_is_retried_by_the_next_check(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock
) -> None:
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 20)])
    fake_slack.fail("chat.postMessage", "not_in_channel")
    assert check(bot).posted == ()
    clock.advance(minutes=15)
    [retried] = bot.deps.watch.retry_refused()
    assert token_posts(retried) == ["vpp reminder 30"]
    assert check(bot).posted == ()


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_that_appear_are_renewed_or_disappear_outside_the_bot_are_posted_once(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    original = token(kind, clock, 200, id=f"{kind}-a", name="Original")
    set_tokens(fake_graph, kind, [original])
    assert check(bot).posted == ()  # the first look only takes note
    added = token(kind, clock, 300, id=f"{kind}-b", name="Added")
    set_tokens(fake_graph, kind, [original, added])
    assert token_posts(check(bot)) == [f"{kind} appeared"]
    renewed = token(kind, clock, 565, id=f"{kind}-a", name="Original")
    set_tokens(fake_graph, kind, [renewed, added])
    assert token_posts(check(bot)) == [f"{kind} renewed"]
    set_tokens(fake_graph, kind, [renewed])
    assert token_posts(check(bot)) == [f"{kind} disappeared"]
    assert check(bot).posted == ()
    assert len(posts(fake_slack, "outside apns-bot")) == 3
    assert "is no longer in Intune" in json.dumps(posts(fake_slack, "Added")[-1].params)
    events = [e for e in bot.deps.store.history("default", limit=50) if e.event == "token_notice"]
    assert {e.detail["notice"] for e in events} == {"appeared", "renewed", "disappeared"}


def test_a_token_renewed_by_another_organisation_or_apple_id_is_a_warning(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock
) -> None:
    """DOMAIN.md: a VPP token of another organisation moves the licences away."""
    set_tokens(fake_graph, "vpp", [vpp_token(expires_at=clock() + timedelta(days=100))])
    set_tokens(fake_graph, "ade", [ade_token(expires_at=clock() + timedelta(days=100))])
    assert check(bot).posted == ()
    moved = vpp_token(expires_at=clock() + timedelta(days=465), organization="Fabrikam <b>")
    other_id = ade_token(expires_at=clock() + timedelta(days=465), apple_id="someone@else.example")
    set_tokens(fake_graph, "vpp", [moved])
    set_tokens(fake_graph, "ade", [other_id])
    assert sorted(token_posts(check(bot))) == ["ade renewed", "vpp renewed"]
    [vpp] = posts(fake_slack, "Fabrikam")
    sent = json.dumps(vpp.params)
    assert "Contoso Ltd" in sent and "Fabrikam &lt;b&gt;" in sent and "licences" in sent
    assert "<@" in vpp.params["text"]  # the approvers are mentioned
    [ade] = posts(fake_slack, "someone@else.example")
    assert "abm-admin@contoso.example" in json.dumps(ade.params) and "<@" in ade.params["text"]


def test_apns_watch_reads_only_the_kinds_it_names(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, clock: MovableClock
) -> None:
    only_push = check(start_bot(APNS_WATCH="push"))
    assert only_push.tokens == () and only_push.certificate is not None
    assert fake_graph.requests_to(ADE_PATH) == fake_graph.requests_to(VPP_PATH) == []

    set_tokens(fake_graph, "ade", [token("ade", clock, 20)])
    certificate_reads = len(fake_graph.requests_to(CERT_PATH))
    only_ade = check(start_bot(APNS_WATCH="ade"))
    assert only_ade.certificate is None and only_ade.error is None  # push not watched
    assert only_ade.watched == (CredentialKind.ADE,)
    assert [r.kind for r in only_ade.tokens] == [CredentialKind.ADE]
    assert only_ade.state is CheckState.ATTENTION and only_ade.posted == ("ade reminder 30",)
    assert len(fake_graph.requests_to(CERT_PATH)) == certificate_reads


def test_a_per_kind_threshold_override_applies(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, clock: MovableClock
) -> None:
    set_tokens(fake_graph, "ade", [token("ade", clock, 80)])
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 80)])
    result = check(start_bot(APNS_REMIND_DAYS_ADE="90,30"))
    assert token_posts(result) == ["ade reminder 90"]


def status_items(bot: RunningBot, fake_slack: FakeSlack) -> str:
    """The "Watched items, worst first" text of a lead's ``/apns status`` in the channel."""
    fake_slack.reset_calls()
    bot.slack.command("status", user=LEAD_1, channel=CHANNEL)
    call = fake_slack.wait_for(
        "response_url", lambda c: "hourglass" not in str(c.params.get("text"))
    )
    return next(
        b["text"]["text"]
        for b in blocks_of(call)
        if "Watched items, worst first" in b.get("text", {}).get("text", "")
    )


def test_slack_status_and_the_home_tab_show_every_item_worst_first(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock
) -> None:
    set_tokens(fake_graph, "vpp", [token("vpp", clock, 5, name="Soon <b>")])
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, "ade")
    items = status_items(bot, fake_slack)
    ade, vpp, push = items.splitlines()[1:]
    assert ade.startswith(":warning: *Automated Device Enrollment (ADE) token* — could not be read")
    assert "*Soon &lt;b&gt;* — 5 days left" in vpp and ":red_circle:" in vpp  # escaped
    assert "Apple push certificate" in push
    answers = [c.params for c in fake_slack.calls_to("response_url")]
    assert "0B7002EFEA6BA6D0" in json.dumps(answers)  # the certificate card stays

    open_home(bot, user=LEAD_1)
    view = json.dumps(view_of(published(fake_slack, "Watched items", user=LEAD_1)))
    assert view.index("could not be read") < view.index("Soon &lt;b&gt;")


def blocks_of(call: Call) -> list[dict[str, Any]]:
    blocks = call.params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks or [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_named_to_ping_the_channel_pings_nobody(
    bot: RunningBot, fake_graph: FakeGraph, fake_slack: FakeSlack, clock: MovableClock, kind: Kind
) -> None:
    """Token and organisation names come from Graph (typed by whoever uploaded the token): the
    notice's blocks and its fallback text (what notifications show) are mrkdwn."""
    named: dict[str, Any] = {"name": "<!channel>"}
    if kind == "vpp":
        named["organization"] = "<!here>"
    set_tokens(fake_graph, kind, [token(kind, clock, 5, **named)])
    assert token_posts(check(bot)) == [f"{kind} reminder 7"]
    [reminder] = posts(fake_slack, "expires soon")
    sent = json.dumps(reminder.params)
    assert "<!channel>" not in sent and "<!here>" not in sent
    assert "&lt;!channel&gt;" in reminder.params["text"]


def test_without_push_watched_a_failure_of_every_kind_is_one_notice(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph, fake_slack: FakeSlack
) -> None:
    """As when the certificate fails with the tokens: a sign-in or permission failure that
    every kind meets is said once, not once per kind."""
    bot = start_bot(APNS_WATCH="ade,vpp")
    fake_graph.set_permission("None")
    result = check(bot)
    assert result.state is CheckState.FAILED
    assert [r.error.code for r in result.tokens if r.error] == ["Forbidden", "Forbidden"]
    assert token_posts(result) == ["ade read failed"]
    assert len(posts(fake_slack, "I cannot read the")) == 1
