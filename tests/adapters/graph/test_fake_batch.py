"""The fake Graph's ``$batch`` endpoint holds Microsoft's documented rules (json-batching):
at most 20 requests, unique string ids, relative URLs, 400 in Graph's error shape otherwise; each
request answered on its own (a 429 carries its ``Retry-After``), in an order of the fake's own."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from bot.adapters.graph.client import HttpGraphClient
from bot.errors import GraphError
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_shapes import CERT_PATH
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH


def post_batch(graph: HttpGraphClient, body: Any) -> httpx.Response:
    """A raw batch through the client's own transport (token, ids), its answer unparsed."""
    transport = graph._transport
    return transport.send("POST", transport.base + "$batch", "send a batch", json=body)


def get(key: str, url: str) -> dict[str, str]:
    return {"id": key, "method": "GET", "url": url}


def refused(graph: HttpGraphClient, body: Any) -> GraphError:
    with pytest.raises(GraphError) as caught:
        post_batch(graph, body)
    return caught.value


def test_twenty_requests_are_answered_each_once(graph: HttpGraphClient, fake_graph: FakeGraph):
    requests = [get(str(n), CERT_PATH if n % 2 else VPP_PATH.lstrip("/")) for n in range(20)]
    answer = post_batch(graph, {"requests": requests}).json()
    ids = [r["id"] for r in answer["responses"]]
    assert sorted(ids) == sorted(str(n) for n in range(20)) and ids != [str(n) for n in range(20)]
    assert {r["status"] for r in answer["responses"]} == {200}
    first = answer["responses"][0]
    assert set(first) == {"id", "status", "headers", "body"}
    assert first["headers"]["Content-Type"].startswith("application/json")
    assert len([r for r in fake_graph.graph_calls() if r.batched]) == 20


def test_more_than_twenty_requests_are_refused(graph: HttpGraphClient, fake_graph: FakeGraph):
    error = refused(graph, {"requests": [get(str(n), CERT_PATH) for n in range(21)]})
    assert (error.status, error.code) == (400, "BadRequest")
    assert fake_graph.graph_calls() == []  # none of them was run


@pytest.mark.parametrize(
    "body",
    [
        {"requests": [get("1", CERT_PATH), get("1", VPP_PATH)]},  # duplicate ids
        {"requests": [get("a", CERT_PATH), get("A", VPP_PATH)]},  # ids are not case-sensitive
        {"requests": [get("1", "https://graph.microsoft.com/beta" + CERT_PATH)]},  # absolute
        {"requests": [{"method": "GET", "url": CERT_PATH}]},  # no id
        {"requests": [{"id": 1, "method": "GET", "url": CERT_PATH}]},  # an id that is no string
        {"requests": {"1": get("1", CERT_PATH)}},  # not a list
        {"requests": []},
        {"calls": [get("1", CERT_PATH)]},
    ],
    ids=[
        "duplicate-id",
        "duplicate-id-in-another-case",
        "absolute-url",
        "no-id",
        "numeric-id",
        "not-a-list",
        "empty",
        "no-key",
    ],
)
def test_a_malformed_batch_is_refused_in_graphs_error_shape(
    graph: HttpGraphClient, fake_graph: FakeGraph, body: Any
):
    error = refused(graph, body)
    assert (error.status, error.code) == (400, "BadRequest")
    assert error.request_id  # Graph's innerError ids, as for any error
    assert fake_graph.graph_calls() == []


def test_a_throttled_request_carries_its_retry_after_in_its_own_headers(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("GET", ADE_PATH, Fault.throttle(retry_after=9))
    answer = post_batch(graph, {"requests": [get("a", CERT_PATH), get("b", ADE_PATH)]})
    assert answer.status_code == 200  # the batch itself went through
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["a"]["status"] == 200 and by_id["b"]["status"] == 429
    assert by_id["b"]["headers"]["Retry-After"] == "9"
    assert by_id["b"]["body"]["error"]["code"] == "TooManyRequests"


def test_each_request_is_checked_like_a_plain_one(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.set_permission("None")
    answer = post_batch(graph, {"requests": [get("1", CERT_PATH), get("2", "/no/such/thing")]})
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["1"]["status"] == 403 and by_id["1"]["body"]["error"]["code"] == "Forbidden"
    assert by_id["2"]["status"] == 400


def test_a_batch_without_a_valid_token_is_refused_whole(fake_graph: FakeGraph):
    context = ssl.create_default_context(cafile=str(fake_graph.tls.ca_bundle))
    with httpx.Client(verify=context) as http:
        answer = http.post(
            fake_graph.graph_url + "/$batch",
            json={"requests": [get("1", CERT_PATH)]},
            headers={"Authorization": "Bearer not-a-token"},
        )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert fake_graph.graph_calls() == []
