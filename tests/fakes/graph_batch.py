"""The fake Graph's JSON batching: ``POST /{beta,v1.0}/$batch``, as Microsoft documents it.

https://learn.microsoft.com/graph/json-batching: the body is ``{"requests": [...]}``, at most 20,
each ``{"id", "method", "url"}`` (optionally ``headers`` and ``body``) with ``id`` a string unique
within the batch (ids are not case-sensitive: ``a`` and ``A`` are duplicates) and ``url`` relative
to the batch's version (``/me`` or ``me``). Graph's ``dependsOn`` (sequencing) is not modelled:
apns-bot never sends it, and the fake runs the requests in the order given.
A malformed batch is answered 400 with Graph's error shape (the code ``BadRequest``; the messages
here are the fake's own wording). A well-formed batch is answered 200 with
``{"responses": [{"id", "status", "headers", "body"}]}``, whatever each request's own status: a
throttled request is a 429 answer carrying its ``Retry-After`` in its own ``headers``. Graph does
not keep the requests' order; this fake answers in reverse order, so clients must match by id.

The batch itself is authenticated like any Graph call (``FakeGraph._graph`` checks the token
before it gets here). Each request then goes through the fake's ordinary routing
(``FakeGraph.answer_batched``): recorded as a ``RecordedRequest`` with ``batched=True``, its
injected faults taken by method and path as for a plain request, the same permission checks,
tokens and paging. The fake's latency and ``hold`` apply once to the whole batch (Graph runs a
batch's independent requests concurrently); a ``slow`` fault on one request delays the batch, and a
``drop_connection`` fault on one request drops the batch's connection (all a client could see).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.graph_faults import graph_error
from tests.fakes.https import RecordedRequest, Response

MAX_REQUESTS = 20
BATCH_PATH = "/$batch"
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})

Answer = Callable[[RecordedRequest], Response | None]
"""One batched request's answer through the fake's routing; ``None``: drop the connection."""


def sub_requests(
    batch: RecordedRequest, version: str, ids: tuple[str, str]
) -> list[tuple[str, RecordedRequest]] | Response:
    """The batch's requests as the fake's own requests (by id), or Graph's 400 for a bad batch."""
    try:
        document = batch.json
    except ValueError:
        document = None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list) or not requests:
        return _bad("Invalid batch payload format.", ids)
    if len(requests) > MAX_REQUESTS:
        return _bad(f"The batch holds more than the {MAX_REQUESTS} requests allowed.", ids)
    seen: set[str] = set()
    subs: list[tuple[str, RecordedRequest]] = []
    for entry in requests:
        if not isinstance(entry, dict):
            return _bad("Invalid batch payload format.", ids)
        key, method, url = entry.get("id"), entry.get("method"), entry.get("url")
        if not isinstance(key, str) or not key or not isinstance(url, str) or not url:
            return _bad("Invalid batch payload format: each request needs an id and a url.", ids)
        if not isinstance(method, str) or method.upper() not in METHODS:
            return _bad(f"Invalid method for the request with id '{key}'.", ids)
        if key.lower() in seen:  # Microsoft: ids are not case-sensitive
            return _bad(f"The batch holds more than one request with id '{key}'.", ids)
        seen.add(key.lower())
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            return _bad(
                f"The request with id '{key}' has an absolute URL; use a relative one.", ids
            )
        headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        if "authorization" in batch.headers:
            headers["authorization"] = batch.headers["authorization"]
        if "client-request-id" in batch.headers:
            headers.setdefault("client-request-id", batch.headers["client-request-id"])
        body = entry.get("body")
        sub = RecordedRequest(
            method=method.upper(),
            path=f"/{version}/{parts.path.lstrip('/')}",
            query=parts.query,
            headers=headers,
            body=json.dumps(body).encode() if body is not None else b"",
            batched=True,
        )
        subs.append((key, sub))
    return subs


def batch_answer(answers: list[tuple[str, Response]]) -> Response:
    """Graph's 200 to a well-formed batch: every request's answer, in reverse order."""
    responses: list[dict[str, Any]] = []
    for key, response in reversed(answers):
        headers = {"Cache-Control": "no-cache", "OData-Version": "4.0", "Content-Type": GRAPH_JSON}
        headers.update(response.headers)
        entry: dict[str, Any] = {"id": key, "status": response.status, "headers": headers}
        if response.body is not None:
            entry["body"] = response.body
        responses.append(entry)
    return Response(200, {"responses": responses})


def _bad(message: str, ids: tuple[str, str]) -> Response:
    return graph_error(400, "BadRequest", message, *ids)
