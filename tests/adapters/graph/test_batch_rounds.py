"""A batched tenant read's retries, through the fake Graph over real sockets: one budget for the
whole read (``RetryPolicy.max_total_wait``, ``max_attempts``), the items to read again in one new
batch, answers apns-bot cannot read, a dead host, a base that refuses batching."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.adapters.graph.client import HttpGraphClient, build_graph_client
from bot.adapters.graph.retry import RetryPolicy
from bot.config import load_settings
from bot.errors import ApnsBotError, GraphError
from tests.adapters.graph.batch_helpers import ADE, VPP, plain, read_all, same, same_reads, wire
from tests.clock import RecordingSleep
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_shapes import CERT_PATH
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH

BATCH_LOG = "bot.adapters.graph.batch"


def urls(batch: Any) -> list[str]:
    return [r["url"] for r in batch.json["requests"]]


def answer(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The response to request ``key`` (1: certificate, 2: ADE, 3: VPP) in a batch answer."""
    return next(r for r in body["responses"] if r["id"] == key)


# --- one budget for the tenant read ---------------------------------------------------------------


def test_the_batchs_own_waits_count_against_an_items_retry_after(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    """40 s waited on the batch, then VPP asks for 50 s: 90 s > 60 s, so not waited out."""
    fake_graph.inject("POST", "/$batch", Fault.throttle(retry_after=40))
    fake_graph.inject("GET", VPP_PATH, Fault.throttle(retry_after=50))
    found = read_all(graph)
    assert sleeps.delays == [40.0]  # before batching, one read waited at most 60 s: still so
    error = found.tokens[VPP]
    assert isinstance(error, GraphError) and error.status == 429
    assert "asked to wait 50 s, longer than apns-bot waits" in error.user_message
    assert [r.batched for r in fake_graph.requests_to(VPP_PATH, "GET")] == [True]
    assert not isinstance(found.certificate, ApnsBotError) and len(found.tokens[ADE]) == 1  # type: ignore[arg-type]


def test_the_re_read_gets_only_what_is_left_of_the_budget(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    """20 s (batch) + 30 s (VPP's answer) waited; the plain re-read's 15 s would make 65 s."""
    fake_graph.inject("POST", "/$batch", Fault.throttle(retry_after=20))
    fake_graph.inject(
        "GET", VPP_PATH, Fault.throttle(retry_after=30), Fault.throttle(retry_after=15)
    )
    found = read_all(graph)
    assert sleeps.delays == [20.0, 30.0] and sleeps.total <= graph._transport.retry.max_total_wait
    error = found.tokens[VPP]
    assert isinstance(error, GraphError) and "asked to wait 15 s" in error.user_message
    assert [r.batched for r in fake_graph.requests_to(VPP_PATH, "GET")] == [True, False]


def test_the_re_read_gets_only_the_attempts_left(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    """The batch took all four attempts: VPP's 503 is its error, as a plain read's fourth 503."""
    fake_graph.inject("POST", "/$batch", *[Fault.unavailable()] * 3)
    fake_graph.inject("GET", VPP_PATH, Fault.unavailable())
    found = read_all(graph)
    assert len(sleeps.delays) == 3 and wire(fake_graph) == ["POST /beta/$batch"] * 4
    fake_graph.inject("GET", VPP_PATH, *[Fault.unavailable()] * 4)
    alone = plain(graph)
    same(found.tokens[VPP], alone.tokens[VPP])
    assert "after 4 attempts" in str(found.tokens[VPP])


# --- the items to read again: one new batch -------------------------------------------------------


def test_items_to_read_again_go_together_in_one_new_batch(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    for path in (CERT_PATH, ADE_PATH, VPP_PATH):
        fake_graph.inject("GET", path, Fault.unavailable())
    found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch"] * 2  # not three plain reads one after another
    first, again = fake_graph.batches()
    assert urls(again) == urls(first) and len(sleeps.delays) == 1
    same_reads(found, plain(graph))


def test_several_retry_afters_are_one_wait_the_longest(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    for path, seconds in ((CERT_PATH, 5), (ADE_PATH, 20), (VPP_PATH, 3)):
        fake_graph.inject("GET", path, Fault.throttle(retry_after=seconds))
    found = read_all(graph)
    assert sleeps.delays == [20.0]
    assert wire(fake_graph) == ["POST /beta/$batch"] * 2
    same_reads(found, plain(graph))


def test_an_item_over_the_budget_errs_while_the_others_are_read_again(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    for path, seconds in ((CERT_PATH, 10), (ADE_PATH, 70), (VPP_PATH, 30)):
        fake_graph.inject("GET", path, Fault.throttle(retry_after=seconds))
    found = read_all(graph)
    assert sleeps.delays == [30.0]  # the longest wait that fits; ADE's 70 s is not waited
    error = found.tokens[ADE]
    assert isinstance(error, GraphError) and "asked to wait 70 s" in error.user_message
    _, again = fake_graph.batches()
    assert urls(again) == [CERT_PATH, VPP_PATH]
    assert not isinstance(found.certificate, ApnsBotError) and len(found.tokens[VPP]) == 1  # type: ignore[arg-type]


def test_rounds_are_bounded_by_the_policys_attempts(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    for path in (CERT_PATH, VPP_PATH):
        fake_graph.inject("GET", path, *[Fault.unavailable()] * 4)
    found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch"] * 4  # max_attempts, no plain reads
    assert [len(urls(b)) for b in fake_graph.batches()] == [3, 2, 2, 2]
    assert len(sleeps.delays) == 3
    for path in (CERT_PATH, VPP_PATH):
        fake_graph.inject("GET", path, *[Fault.unavailable()] * 4)
    same_reads(found, plain(graph))  # "... (after 4 attempts)", as four plain 503s


def test_a_401_among_the_items_sends_the_new_batch_with_a_fresh_token(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", CERT_PATH, Fault.unauthorized())
    fake_graph.inject("GET", VPP_PATH, Fault.unavailable())
    found = read_all(graph)
    first, again = fake_graph.batches()
    assert urls(again) == [CERT_PATH, VPP_PATH]
    assert first.headers["authorization"] != again.headers["authorization"]
    assert len(fake_graph.token_requests()) == 2
    same_reads(found, plain(graph))


# --- answers apns-bot cannot read -------------------------------------------------------------------


@pytest.mark.parametrize("status", ["200", True, 99])
def test_a_status_that_is_not_an_http_status_falls_back_to_plain_reads(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture, status: Any
):
    def mangle(body: dict[str, Any]) -> Any:
        answer(body, "1")["status"] = status
        return body

    fake_graph.batch_mangler = mangle
    with caplog.at_level(logging.WARNING, logger=BATCH_LOG):
        found = read_all(graph)
    assert len(wire(fake_graph)) == 4 and [r.levelname for r in caplog.records] == ["WARNING"]
    fake_graph.reset()
    same_reads(found, plain(graph))


def test_a_header_that_is_not_ascii_falls_back_to_plain_reads(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
):
    """httpx refuses such a header (UnicodeEncodeError): it must not escape ``read_watched``."""
    fake_graph.inject("GET", VPP_PATH, Fault.throttle(retry_after=1))

    def mangle(body: dict[str, Any]) -> Any:
        answer(body, "3")["headers"]["Retry-After"] = "１"  # a full-width digit
        return body

    fake_graph.batch_mangler = mangle
    with caplog.at_level(logging.WARNING, logger=BATCH_LOG):
        found = read_all(graph)
    assert len(wire(fake_graph)) == 4
    [warning] = caplog.records
    assert "one by one" in warning.getMessage()
    fake_graph.reset()
    same_reads(found, plain(graph))


def test_an_answer_that_cannot_be_handled_is_that_items_plain_read(
    graph: HttpGraphClient,
    fake_graph: FakeGraph,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    def broken(*args: Any, **kwargs: Any) -> GraphError:
        raise RuntimeError("a bug wording the error")

    monkeypatch.setattr("bot.adapters.graph.batch.error_of", broken)
    fake_graph.inject("GET", ADE_PATH, Fault.intune_bad_request())
    with caplog.at_level(logging.WARNING, logger=BATCH_LOG):
        found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch", f"GET /beta{ADE_PATH}"]
    [warning] = caplog.records
    assert "ade" in warning.getMessage() and "RuntimeError" in warning.getMessage()
    assert "a bug" not in warning.getMessage()  # the type only: no body, no message
    same_reads(found, plain(graph))


def test_a_2xx_body_sent_as_a_string_is_read_plainly(graph: HttpGraphClient, fake_graph: FakeGraph):
    """Graph base64-encodes a body that is not JSON; the plain read gets the real answer."""

    def mangle(body: dict[str, Any]) -> Any:
        vpp = answer(body, "3")
        vpp["body"] = base64.b64encode(json.dumps(vpp["body"]).encode()).decode()
        return body

    fake_graph.batch_mangler = mangle
    found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch", f"GET /beta{VPP_PATH}"]
    assert len(found.tokens[VPP]) == 1  # type: ignore[arg-type]
    fake_graph.batch_mangler = None
    same_reads(found, plain(graph))


# --- a dead host, a base that refuses batching --------------------------------------------------


@pytest.fixture
def v1_graph(graph_env: dict[str, str], fast_retry: RetryPolicy) -> Iterator[HttpGraphClient]:
    env = {**graph_env, "GRAPH_URL": graph_env["GRAPH_URL"].replace("/beta", "/v1.0")}
    settings = load_settings(env, need_slack=False)
    with build_graph_client(settings, settings.default_tenant, retry=fast_retry) as client:
        yield client


def test_on_v1_0_a_batch_without_an_answer_is_also_ades_error(
    v1_graph: HttpGraphClient, fake_graph: FakeGraph
):
    """The v1.0 batch got no answer: the beta ADE read on the same host is not tried."""
    fake_graph.inject("POST", "/$batch", *[Fault.drop_connection()] * 4)
    found = read_all(v1_graph)
    assert wire(fake_graph) == ["POST /v1.0/$batch"] * 4  # the transport's retries, no ADE GET
    errors = [found.certificate, found.tokens[ADE], found.tokens[VPP]]
    assert all(isinstance(e, GraphError) and e.status is None for e in errors)
    assert found.tokens[ADE] is found.certificate  # the batch's own error


def test_without_a_batch_a_plain_read_without_an_answer_is_the_next_ones_error(
    v1_graph: HttpGraphClient, fake_graph: FakeGraph
):
    """Only ADE (beta) and VPP (v1.0) watched: two plain reads; the host is tried once."""
    fake_graph.inject("GET", ADE_PATH, *[Fault.drop_connection()] * 4)
    found = v1_graph.read_watched(False, (ADE, VPP))
    assert wire(fake_graph) == [f"GET /beta{ADE_PATH}"] * 4
    assert isinstance(found.tokens[VPP], GraphError) and found.tokens[VPP] is found.tokens[ADE]


def test_a_base_that_refused_batching_is_read_plainly_from_then_on(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
):
    fake_graph.inject("POST", "/$batch", Fault.intune_bad_request())
    with caplog.at_level(logging.WARNING, logger=BATCH_LOG):
        first = read_all(graph)
        before = len(wire(fake_graph))
        second = read_all(graph)
    assert wire(fake_graph)[before:] == [f"GET /beta{p}" for p in (CERT_PATH, ADE_PATH, VPP_PATH)]
    [warning] = caplog.records  # logged once, on the refusal
    assert "400" in warning.getMessage() and "from now on" in warning.getMessage()
    same_reads(first, second)
