"""A tenant's watched items in one JSON batch, through the fake Graph over real sockets.

Every batched result is compared with what the plain reads (``get_certificate``,
``list_ade_tokens``, ``list_vpp_tokens``) give for the same Graph, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.adapters.graph.client import HttpGraphClient, build_graph_client
from bot.adapters.graph.errors import READ_PERMISSION
from bot.adapters.graph.retry import RetryPolicy
from bot.config import load_settings
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError, AuthError, GraphError
from bot.usecases.watched import UnexpectedReadError
from tests.adapters.graph.batch_helpers import (
    ADE,
    IDS,
    KINDS,
    PATHS,
    VPP,
    plain,
    read_all,
    same,
    same_reads,
    several,
    wire,
)
from tests.clock import RecordingSleep
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_shapes import CERT_PATH
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH

# --- one request per tenant ------------------------------------------------------------------------


def test_all_three_kinds_are_one_batch_on_beta(graph: HttpGraphClient, fake_graph: FakeGraph):
    found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch"]
    [batch] = fake_graph.batches()
    assert batch.json == {
        "requests": [
            {"id": "1", "method": "GET", "url": CERT_PATH},
            {"id": "2", "method": "GET", "url": ADE_PATH},
            {"id": "3", "method": "GET", "url": VPP_PATH},
        ]
    }
    inside = [(r.method, r.path) for r in fake_graph.graph_calls()]
    assert inside == [("GET", f"/beta{p}") for p in (CERT_PATH, ADE_PATH, VPP_PATH)]
    assert all(r.batched for r in fake_graph.graph_calls())
    assert found.certificate is not None and not isinstance(found.certificate, ApnsBotError)
    fake_graph.reset()
    same_reads(found, plain(graph))


def test_v1_0_batches_the_certificate_and_vpp_and_reads_ade_on_beta(
    graph_env: dict[str, str], fake_graph: FakeGraph, fast_retry: RetryPolicy
):
    env = {**graph_env, "GRAPH_URL": graph_env["GRAPH_URL"].replace("/beta", "/v1.0")}
    settings = load_settings(env, need_slack=False)
    with build_graph_client(settings, settings.default_tenant, retry=fast_retry) as graph:
        found = read_all(graph)
        assert wire(fake_graph) == [
            "POST /v1.0/$batch",
            "GET /beta/deviceManagement/depOnboardingSettings",
        ]
        [batch] = fake_graph.batches()
        assert [r["url"] for r in batch.json["requests"]] == [CERT_PATH, VPP_PATH]
        vpp = found.tokens[VPP]
        assert not isinstance(vpp, ApnsBotError) and vpp[0].name == "Contoso Ltd"  # v1.0 shape
        fake_graph.reset()
        same_reads(found, plain(graph))


def test_a_failed_sign_in_is_every_items_error_as_on_the_plain_path(
    graph_env: dict[str, str], fake_graph: FakeGraph, fast_retry: RetryPolicy
):
    """The batch's token request is refused: no exception escapes, each item says why."""
    settings = load_settings({**graph_env, "AZURE_CLIENT_SECRET": "wrong"}, need_slack=False)
    with build_graph_client(settings, settings.default_tenant, retry=fast_retry) as graph:
        found = read_all(graph)
        assert wire(fake_graph) == []  # nothing reached Graph
        items = [found.certificate, *found.tokens.values()]
        assert len(items) == 3 and all(isinstance(item, AuthError) for item in items)
        alone = plain(graph)
        assert [IDS.sub("<id>", str(item)) for item in items] == [
            IDS.sub("<id>", str(item)) for item in (alone.certificate, *alone.tokens.values())
        ]


def test_a_lone_read_is_the_plain_get(graph: HttpGraphClient, fake_graph: FakeGraph):
    found = graph.read_watched(False, (VPP,))
    assert wire(fake_graph) == ["GET /beta/deviceAppManagement/vppTokens"]
    assert found.certificate is None and set(found.tokens) == {VPP}


@pytest.mark.parametrize("count", [0, 1, 3])
def test_none_one_or_several_tokens_read_as_plainly(
    graph: HttpGraphClient, fake_graph: FakeGraph, count: int
):
    for kind in ("ade", "vpp"):
        fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, several(kind, count))
    found = read_all(graph)
    assert [len(found.tokens[k]) for k in KINDS] == [count, count]  # type: ignore[arg-type]
    same_reads(found, plain(graph))


def test_every_page_of_a_batched_list_is_followed(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.apple_tokens.page_size = 1
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", several("ade", 3))
    found = read_all(graph)
    ade = found.tokens[ADE]
    assert not isinstance(ade, ApnsBotError) and [t.id for t in ade] == ["ade-0", "ade-1", "ade-2"]
    pages = fake_graph.requests_to(ADE_PATH, "GET")
    assert [r.batched for r in pages] == [True, False, False]  # then each nextLink, plainly
    assert [bool(r.query) for r in pages] == [False, True, True]


# --- one item failing ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_403_for_one_kind_is_the_plain_reads_error_and_hides_no_other(
    graph: HttpGraphClient, fake_graph: FakeGraph, kind: CredentialKind
):
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind.value)  # type: ignore[arg-type]
    found = read_all(graph)
    error = found.tokens[kind]
    assert isinstance(error, GraphError) and error.status == 403
    assert READ_PERMISSION in error.user_message and kind.value.upper() in error.user_message
    other = VPP if kind is ADE else ADE
    assert len(found.tokens[other]) == 1  # type: ignore[arg-type]
    assert not isinstance(found.certificate, ApnsBotError)
    assert len(fake_graph.requests_to(PATHS[kind], "GET")) == 1  # a 403 is not read again
    same_reads(found, plain(graph))


def test_a_throttled_item_waits_its_retry_after_then_is_read_plainly(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", VPP_PATH, Fault.throttle(retry_after=7))
    found = read_all(graph)
    assert sleeps.delays == [7.0]
    assert [r.batched for r in fake_graph.requests_to(VPP_PATH, "GET")] == [True, False]
    assert wire(fake_graph) == ["POST /beta/$batch", f"GET /beta{VPP_PATH}"]
    same_reads(found, plain(graph))


def test_an_unavailable_item_is_read_again_after_a_backoff(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", CERT_PATH, Fault.unavailable())
    found = read_all(graph)
    assert len(sleeps.delays) == 1 and 0 <= sleeps.delays[0] <= 0.01  # fast_retry's first backoff
    assert [r.batched for r in fake_graph.requests_to(CERT_PATH, "GET")] == [True, False]
    same_reads(found, plain(graph))


def test_a_re_read_item_gets_the_plain_reads_own_retries(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", ADE_PATH, Fault.throttle(retry_after=2), Fault.throttle(retry_after=3))
    found = read_all(graph)
    assert sleeps.delays == [2.0, 3.0]  # the batched answer's, then the plain read's own retry
    assert len(fake_graph.requests_to(ADE_PATH, "GET")) == 3
    same_reads(found, plain(graph))


def test_a_retry_after_longer_than_the_bound_is_the_plain_reads_error(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", VPP_PATH, Fault.throttle(retry_after=3600))
    found = read_all(graph)
    error = found.tokens[VPP]
    assert isinstance(error, GraphError) and error.status == 429
    assert "asked to wait 3600 s" in error.user_message
    assert sleeps.delays == [] and len(fake_graph.requests_to(VPP_PATH, "GET")) == 1
    fake_graph.inject("GET", VPP_PATH, Fault.throttle(retry_after=3600))
    with pytest.raises(GraphError) as alone:
        graph.list_vpp_tokens()
    same(error, alone.value)


def test_an_item_answered_401_is_read_again_with_a_fresh_token(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", CERT_PATH, Fault.unauthorized())
    found = read_all(graph)
    assert not isinstance(found.certificate, ApnsBotError) and found.certificate is not None
    assert sleeps.delays == []
    assert [r.batched for r in fake_graph.requests_to(CERT_PATH, "GET")] == [True, False]


def test_a_server_error_in_one_item_is_the_plain_reads_error(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("GET", ADE_PATH, Fault.intune_bad_request())
    found = read_all(graph)
    error = found.tokens[ADE]
    assert isinstance(error, GraphError) and error.status == 400
    assert len(found.tokens[VPP]) == 1  # type: ignore[arg-type]
    fake_graph.inject("GET", ADE_PATH, Fault.intune_bad_request())
    same_reads(found, plain(graph))


def test_a_bug_parsing_one_kind_hides_no_other(
    graph: HttpGraphClient, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
):
    def broken(first_page: Any) -> Any:
        raise KeyError("a bug in the VPP parser")

    monkeypatch.setattr(graph.tokens, "vpp_tokens_from", broken)
    found = read_all(graph)
    assert isinstance(found.tokens[VPP], UnexpectedReadError)
    assert "KeyError" not in found.tokens[VPP].user_message  # type: ignore[union-attr]
    assert len(found.tokens[ADE]) == 1  # type: ignore[arg-type]
    assert not isinstance(found.certificate, ApnsBotError)


# --- the batch failing -----------------------------------------------------------------------------


def test_a_batch_refused_with_400_falls_back_to_plain_reads(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
):
    fake_graph.inject("POST", "/$batch", Fault.intune_bad_request())
    with caplog.at_level(logging.WARNING, logger="bot.adapters.graph.batch"):
        found = read_all(graph)
    assert wire(fake_graph) == ["POST /beta/$batch"] + [
        f"GET /beta{p}" for p in (CERT_PATH, ADE_PATH, VPP_PATH)
    ]
    [warning] = caplog.records
    assert "one by one" in warning.getMessage() and "Bearer" not in warning.getMessage()
    fake_graph.reset()
    same_reads(found, plain(graph))


def drop_first(body: dict[str, Any]) -> Any:
    return {"responses": body["responses"][1:]}


def duplicate_first(body: dict[str, Any]) -> Any:
    return {"responses": [body["responses"][0], *body["responses"]]}


def not_a_list(body: dict[str, Any]) -> Any:
    return {"responses": {r["id"]: r for r in body["responses"]}}


def unknown_id(body: dict[str, Any]) -> Any:
    return {"responses": [{**body["responses"][0], "id": "99"}, *body["responses"][1:]]}


@pytest.mark.parametrize("mangle", [drop_first, duplicate_first, not_a_list, unknown_id])
def test_a_malformed_batch_answer_falls_back_to_plain_reads(
    graph: HttpGraphClient,
    fake_graph: FakeGraph,
    caplog: pytest.LogCaptureFixture,
    mangle: Callable[[dict[str, Any]], Any],
):
    fake_graph.batch_mangler = mangle
    with caplog.at_level(logging.WARNING, logger="bot.adapters.graph.batch"):
        found = read_all(graph)
    assert len(fake_graph.batches()) == 1 and len(wire(fake_graph)) == 4
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    fake_graph.reset()
    same_reads(found, plain(graph))


def test_a_throttled_batch_is_retried_by_the_transport(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("POST", "/$batch", Fault.throttle(retry_after=4))
    found = read_all(graph)
    assert sleeps.delays == [4.0]
    assert wire(fake_graph) == ["POST /beta/$batch", "POST /beta/$batch"]
    same_reads(found, plain(graph))


def test_a_batch_answered_401_refreshes_the_token_once(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    graph.get_certificate()  # signed in
    fake_graph.reset()  # the fake forgets every token it issued: the client's is rejected
    found = read_all(graph)
    first, retried = fake_graph.batches()
    assert first.headers["authorization"] != retried.headers["authorization"]
    assert len(fake_graph.token_requests()) == 1
    assert not isinstance(found.certificate, ApnsBotError)


def test_a_batch_without_an_answer_is_every_items_error_without_plain_reads(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("POST", "/$batch", *[Fault.drop_connection()] * 4)
    found = read_all(graph)
    errors = [found.certificate, found.tokens[ADE], found.tokens[VPP]]
    assert all(isinstance(e, GraphError) and e.status is None for e in errors)
    assert wire(fake_graph) == ["POST /beta/$batch"] * 4  # the transport's retries, no more
    assert fake_graph.graph_calls() == []


def test_the_fakes_batch_answers_in_another_order_than_asked(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    seen: list[list[str]] = []

    def spy(body: dict[str, Any]) -> Any:
        seen.append([r["id"] for r in body["responses"]])
        return body

    fake_graph.batch_mangler = spy
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", several("ade", 2))  # tell the kinds apart
    found = read_all(graph)
    assert seen == [["3", "2", "1"]]
    assert [len(found.tokens[k]) for k in KINDS] == [2, 1]  # type: ignore[arg-type]
    fake_graph.batch_mangler = None
    same_reads(found, plain(graph))  # each read landed on its own kind
