"""``GET /metrics`` of a running bot in HTTP mode, over a real socket, read with prometheus_client's
own parser: what the watch saw (through the real watch and the fake Graph), and the counters
moving as a renewal is requested, refused, approved and uploaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.core.reminders import CheckState
from bot.core.tokens import AppleToken, CredentialKind, ReadError, TokenRead
from bot.slack.ids import Action
from bot.usecases.watch import CheckResult
from tests.clock import T0, days
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_shapes import CERT_PATH, DEFAULT_EXPIRY
from tests.fakes.graph_tokens import ade_token, vpp_token
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import pending_request, renewal, submit
from tests.harness import LEAD_1, OUTSIDER, RunningBot

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
APPLE_IDS = ("mdm-admin@contoso.example", "abm-admin@contoso.example")


def scrape(base: str) -> tuple[str, Samples]:
    """GET /metrics; the text and its samples by name and labels."""
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, found


def value(found: Samples, metric: str, **labels: str) -> float | None:
    return found.get((metric, frozenset(labels.items())))


def test_metrics_show_the_push_certificate_the_watch_read(
    bot: RunningBot, fake_graph: FakeGraph
) -> None:
    [result] = bot.deps.watch.check_all()
    assert result.state is CheckState.OK
    _, found = scrape(bot.base)
    expiry = value(
        found,
        "apns_bot_expiry_timestamp_seconds",
        tenant="default",
        kind="push",
        name="push certificate",
    )
    assert expiry == DEFAULT_EXPIRY.timestamp()
    assert value(found, "apns_bot_check_success", tenant="default", kind="push") == 1.0
    last = value(found, "apns_bot_last_check_timestamp_seconds", tenant="default")
    assert last == T0.timestamp()


def test_a_push_read_that_fails_later_is_0_and_keeps_the_expiry(
    bot: RunningBot, fake_graph: FakeGraph
) -> None:
    bot.deps.watch.check_all()
    bot.clock.advance(days=1)
    fake_graph.inject("GET", CERT_PATH, Fault.forbidden())
    [result] = bot.deps.watch.check_all()
    assert result.state is CheckState.FAILED
    _, found = scrape(bot.base)
    assert value(found, "apns_bot_check_success", tenant="default", kind="push") == 0.0
    name = "push certificate"
    at = value(found, "apns_bot_expiry_timestamp_seconds", tenant="default", kind="push", name=name)
    assert at == DEFAULT_EXPIRY.timestamp()
    last = value(found, "apns_bot_last_check_timestamp_seconds", tenant="default")
    assert last == days(1).timestamp()


def test_a_failed_read_is_0_beside_a_kind_read_fine(bot: RunningBot, fake_graph: FakeGraph) -> None:
    vpp = AppleToken(
        id="5a8c1e2f-0b3d-4c6e-9f7a-1b2c3d4e5f60",
        kind=CredentialKind.VPP,
        name=f"Apps and Books of {APPLE_IDS[1].upper()}",  # holds its Apple ID: the id is shown
        apple_id=APPLE_IDS[1],
        organization="Contoso Ltd",
        expires_at=days(188),
        state="valid",
    )
    denied = ReadError("forbidden", "Graph answered 403: DeviceManagementServiceConfig.Read.All.")
    bot.deps.metrics.observe(
        CheckResult(
            "default",
            CheckState.FAILED,
            T0,
            error="Graph answered 403.",
            tokens=(
                TokenRead(CredentialKind.ADE, error=denied),
                TokenRead(CredentialKind.VPP, (vpp,)),
            ),
        )
    )
    text, found = scrape(bot.base)
    assert value(found, "apns_bot_check_success", tenant="default", kind="push") == 0.0
    assert value(found, "apns_bot_check_success", tenant="default", kind="ade") == 0.0
    assert value(found, "apns_bot_check_success", tenant="default", kind="vpp") == 1.0
    name = vpp.id
    at = value(found, "apns_bot_expiry_timestamp_seconds", tenant="default", kind="vpp", name=name)
    assert at == days(188).timestamp()
    assert not any(apple_id in text.lower() for apple_id in APPLE_IDS)


def test_ade_and_vpp_expiries_are_the_tokens_graph_listed_and_a_vpp_403_is_0_for_vpp_only(
    bot: RunningBot, fake_graph: FakeGraph
) -> None:
    """Through the real watch: the values scraped are the fake tokens' own expiries, to the
    second, and a read failing for one kind sets that kind's success to 0 and no other's."""
    ade_expiry = days(97) + timedelta(hours=3, minutes=7, seconds=11)
    vpp_expiry = days(143) + timedelta(hours=20, minutes=1, seconds=59)
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "ade", [ade_token(name="Enrollment NL", expires_at=ade_expiry)]
    )
    fake_graph.apple_tokens.set(
        FAKE_TENANT_ID, "vpp", [vpp_token(display_name="Licences NL", expires_at=vpp_expiry)]
    )
    [first] = bot.deps.watch.check_all()
    assert first.state is CheckState.OK
    _, found = scrape(bot.base)

    def expiry(kind: str, name: str) -> float | None:
        metric = "apns_bot_expiry_timestamp_seconds"
        return value(found, metric, tenant="default", kind=kind, name=name)

    def success(kind: str) -> float | None:
        return value(found, "apns_bot_check_success", tenant="default", kind=kind)

    assert expiry("ade", "Enrollment NL") == ade_expiry.timestamp()
    assert expiry("vpp", "Licences NL") == vpp_expiry.timestamp()
    assert (success("push"), success("ade"), success("vpp")) == (1.0, 1.0, 1.0)

    bot.clock.advance(days=1)
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, "vpp")  # 403 for the VPP tokens only
    [second] = bot.deps.watch.check_all()
    assert second.state is CheckState.FAILED
    _, found = scrape(bot.base)
    assert (success("push"), success("ade"), success("vpp")) == (1.0, 1.0, 0.0)
    assert expiry("ade", "Enrollment NL") == ade_expiry.timestamp()
    assert expiry("vpp", "Licences NL") == vpp_expiry.timestamp()  # the last one read stays


def counter(found: Samples, name: str, outcome: str) -> float | None:
    return value(found, name, kind="push", outcome=outcome)


def test_counters_move_with_a_renewal(
    bot: RunningBot, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    _, before = scrape(bot.base)
    assert counter(before, "apns_bot_requests_total", "sent") == 0.0

    submit(bot, fake_slack, b"not a certificate")  # refused by the checks
    fake_slack.wait_for("views.update")
    request_id = pending_request(bot, fake_slack, renewal())
    bot.slack.click(Action.APPROVE, request_id, OUTSIDER)
    fake_slack.wait_for("response_url")
    bot.slack.click(Action.APPROVE, request_id, LEAD_1)
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))

    text, after = scrape(bot.base)
    assert counter(after, "apns_bot_requests_total", "blocked") == 1.0
    assert counter(after, "apns_bot_requests_total", "sent") == 1.0
    assert counter(after, "apns_bot_approvals_total", "refused") == 1.0
    assert counter(after, "apns_bot_approvals_total", "approved") == 1.0
    assert counter(after, "apns_bot_uploads_total", "applied") == 1.0
    assert counter(after, "apns_bot_uploads_total", "failed") == 0.0
    for user in (LEAD_1, OUTSIDER):
        assert user not in text


def test_only_get_on_metrics_is_answered(bot: RunningBot) -> None:
    post = httpx.post(f"{bot.base}/metrics", content=b"x=1", timeout=10)
    assert post.status_code == 405 and post.headers["allow"] == "GET"
    assert "apns_bot" not in post.text
    assert httpx.get(f"{bot.base}/metrics/extra", timeout=10).status_code == 404
    assert httpx.get(f"{bot.base}/metrics?name[]=x", timeout=10).status_code == 200


METRICS_TOKEN = "c2VjcmV0LXNjcmFwZS10b2tlbi0wMTIz"


def test_with_a_metrics_token_a_scrape_must_carry_it(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph
) -> None:
    bot = start_bot(APNS_METRICS_TOKEN=METRICS_TOKEN)
    bot.deps.watch.check_all()
    url = f"{bot.base}/metrics"
    for headers in (
        {},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": "Bearer"},
    ):
        refused = httpx.get(url, headers=headers, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "apns_bot" not in refused.text and "default" not in refused.text
    answer = httpx.get(url, headers={"Authorization": f"bearer {METRICS_TOKEN}"}, timeout=10)
    assert answer.status_code == 200 and "apns_bot_check_success" in answer.text
    # the Slack endpoint itself is not behind the token
    assert httpx.get(f"{bot.base}/healthz", timeout=10).status_code == 200


def test_scrapes_are_gzipped_when_accepted_and_negotiated(bot: RunningBot) -> None:
    bot.deps.watch.check_all()
    packed = httpx.get(f"{bot.base}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(packed.content)  # httpx unpacked it
    plain = httpx.get(f"{bot.base}/metrics", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers and plain.content == packed.content
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    open_metrics = httpx.get(
        f"{bot.base}/metrics",
        headers={"Accept": "application/openmetrics-text;version=1.0.0"},
        timeout=10,
    )
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")


def test_after_a_restart_the_stored_push_expiry_shows_before_any_check(
    start_bot: Callable[..., RunningBot], fake_graph: FakeGraph
) -> None:
    first = start_bot()
    first.deps.watch.check_all()  # stores what it read
    fake_graph.inject("GET", CERT_PATH, Fault.forbidden())
    restarted = start_bot()  # same database, no check yet
    _, found = scrape(restarted.base)
    name = "push certificate"
    at = value(found, "apns_bot_expiry_timestamp_seconds", tenant="default", kind="push", name=name)
    assert at == DEFAULT_EXPIRY.timestamp()
    assert value(found, "apns_bot_check_success", tenant="default", kind="push") is None
    assert value(found, "apns_bot_last_check_timestamp_seconds", tenant="default") is None
    [result] = restarted.deps.watch.check_all()  # Graph refuses: 0, and the expiry stays
    assert result.state is CheckState.FAILED
    _, found = scrape(restarted.base)
    assert value(found, "apns_bot_check_success", tenant="default", kind="push") == 0.0
    at = value(found, "apns_bot_expiry_timestamp_seconds", tenant="default", kind="push", name=name)
    assert at == DEFAULT_EXPIRY.timestamp()
