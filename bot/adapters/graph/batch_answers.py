"""Reading a JSON batch's answer (``bot.adapters.graph.batch``): each sub-response by ``id``, and
a sub-response's error worded exactly as the plain read's (``error_from_response``).

An answer is usable only when it holds exactly one response per request, each with a known string
``id``, an integer ``status`` (100-599, not a boolean) and ``headers`` whose names and values are
ASCII text (HTTP headers are; httpx refuses anything else). Otherwise the caller reads the items
the plain way. Bodies never reach a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.adapters.graph.errors import Call, error_from_response
from bot.adapters.graph.transport import GraphTransport
from bot.errors import GraphError

READ_AGAIN = frozenset({401, 429, 503, 504})  # a sub-response the plain read may well get past
# The batch endpoint (or a proxy in front of it) may refuse batching while plain reads work.
FALLBACK = frozenset({400, 404, 405, 501})
_UNSAFE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class Answer:
    """One sub-response: its status, its headers (names lower-cased) and its body as sent."""

    status: int
    headers: dict[str, str]
    body: Any


def answers_of(response: httpx.Response, ids: set[str]) -> dict[str, Answer] | None:
    """Each request's answer by id; ``None`` unless there is exactly one readable one per request."""
    try:
        document = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes
        return None
    responses = document.get("responses") if isinstance(document, dict) else None
    if not isinstance(responses, list):
        return None
    found: dict[str, Answer] = {}
    for entry in responses:
        if not isinstance(entry, dict):
            return None
        key, status = entry.get("id"), entry.get("status")
        if not isinstance(key, str) or key not in ids or key in found:
            return None
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            return None
        headers = _headers(entry.get("headers"))
        if headers is None:
            return None
        found[key] = Answer(status, headers, entry.get("body"))
    return found if len(found) == len(ids) else None


def _headers(raw: object) -> dict[str, str] | None:
    """A sub-response's text headers; ``None`` for a header that is not ASCII (malformed)."""
    if not isinstance(raw, dict):
        return {}
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            continue  # not a header value Graph sends: ignored, as before
        if not (isinstance(name, str) and name.isascii() and value.isascii()):
            return None
        headers[name.lower()] = value
    return headers


def error_of(
    t: GraphTransport,
    url: str,
    action: str,
    answer: Answer,
    tries: int,
    crid: str,
    too_long: float | None = None,
) -> GraphError:
    """The ``GraphError`` the plain ``GET url`` (to ``action``) gives for the same answer
    (``crid``: the batch's client-request-id, unless the sub-response echoes one)."""
    call = Call("GET", action, t.tenant.client_id, t.tenant.tenant_id)
    return error_from_response(_response(url, answer), call, crid, max(tries, 1), too_long)


def _response(url: str, answer: Answer) -> httpx.Response:
    """A sub-response as the plain GET's response, for ``error_from_response``."""
    headers = {k: v for k, v in answer.headers.items() if k not in _UNSAFE_HEADERS}
    request = httpx.Request("GET", url)
    if answer.body is None:
        return httpx.Response(answer.status, headers=headers, request=request)
    return httpx.Response(answer.status, headers=headers, json=answer.body, request=request)
