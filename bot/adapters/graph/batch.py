"""A tenant's watched reads in one Microsoft Graph request: JSON batching (``POST {version}/$batch``).

The daily check reads three things per tenant (the push certificate, the ADE and the VPP token
lists). Microsoft's documented way to make several reads of one tenant at once is one
``POST {base}$batch`` carrying up to 20 requests (https://learn.microsoft.com/graph/json-batching):
``{"requests": [{"id": "1", "method": "GET", "url": "/deviceManagement/..."}, ...]}`` with URLs
relative to the batch's version, answered ``{"responses": [{"id", "status", "headers", "body"}]}``
in any order. One request instead of three costs a third of the HTTP work (the check is CPU-bound
on the client side) and needs no thread per kind.

``read_batched`` groups the wanted reads by the Graph base they go to (``GRAPH_URL``'s version;
ADE is always beta): a group of two or more is one batch, a group of one is the plain GET. The
batch goes through ``GraphTransport.send`` like any call (token, client-request-id, retries on
429/503/504 with Retry-After, one token refresh on 401). Then, per answer (matched by ``id``):

- 2xx: parsed exactly as the plain read parses it; a collection's ``@odata.nextLink`` pages are
  fetched with plain GETs (``collect_pages``, the same host check and page bound);
- 401, 429, 503, 504: that item is read again the plain way (which retries on its own), after
  waiting its ``Retry-After`` (else a backoff; several items wait once, the longest); a wait longer
  than the policy's bound is the error the plain read would give for it;
- any other status: the ``GraphError`` the plain read would raise (``error_from_response`` on the
  sub-response, same action: same message and code, a 403 naming the permission).

When the batch itself fails in a way a plain read might not (400, 404, 405 or 501 from the
endpoint or a proxy, or an answer without exactly one response per request) a warning is logged
and every item of the group is read the plain way. Any other failure of the batch (a transport
error or timeout, a 5xx or 429 that outlasted the retries) is every item's error: a dead host is
not waited on twice.

Bodies and tokens never reach a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

import httpx

from bot.adapters.graph.errors import Call, error_from_response
from bot.adapters.graph.transport import GraphTransport
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError, GraphError

log = logging.getLogger(__name__)

MAX_BATCH = 20  # Graph's limit of requests in one batch
READ_AGAIN = frozenset({401, 429, 503, 504})  # a sub-response the plain read may well get past
# The batch endpoint (or a proxy in front of it) may refuse batching while plain reads work.
FALLBACK = frozenset({400, 404, 405, 501})
_UNSAFE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Read = Callable[[], Any]
"""One item's read, called later (under the caller's per-kind error handling)."""


@dataclass(frozen=True)
class Wanted:
    """One read of a tenant's watched items."""

    kind: CredentialKind
    base: str  # the absolute Graph base (ending in "/") the read goes to
    path: str  # under ``base``, e.g. "deviceManagement/depOnboardingSettings"
    action: str  # e.g. "read the push certificate", as the plain read words its errors
    parse: Callable[[Any], Any]  # a 2xx answer's body -> the value (pages followed)
    plain: Read  # the read without batching, retries included

    @property
    def url(self) -> str:
        return self.base + self.path


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: Any


def read_batched(transport: GraphTransport, wanted: Sequence[Wanted]) -> dict[CredentialKind, Read]:
    """Per wanted kind, its read: a batched answer's parse, its error, or the plain read."""
    groups: dict[str, list[Wanted]] = {}
    for item in wanted:
        groups.setdefault(item.base, []).append(item)
    reads: dict[CredentialKind, Read] = {}
    for base, items in groups.items():
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            if len(chunk) == 1:
                reads[chunk[0].kind] = chunk[0].plain
            else:
                reads.update(_batch(transport, base, chunk))
    return reads


def _batch(t: GraphTransport, base: str, items: list[Wanted]) -> dict[CredentialKind, Read]:
    by_id = {str(number): item for number, item in enumerate(items, start=1)}
    body = {
        "requests": [
            {"id": key, "method": "GET", "url": "/" + item.path} for key, item in by_id.items()
        ]
    }
    kinds = ", ".join(item.kind.value for item in items)
    try:
        response = t.send("POST", base + "$batch", joined_action(items), json=body)
    except GraphError as exc:
        if exc.status in FALLBACK:
            log.warning(
                "graph POST %s$batch answered %s: reading %s one by one", base, exc.status, kinds
            )
            return {item.kind: item.plain for item in items}
        return {item.kind: partial(_raise, exc) for item in items}  # as a plain read would fail
    except ApnsBotError as exc:  # the sign-in failed: every item's error, as on the plain path
        return {item.kind: partial(_raise, exc) for item in items}
    answers = _answers(response, set(by_id))
    if answers is None:
        log.warning(
            "graph POST %s$batch: the answer does not hold one response per request: "
            "reading %s one by one",
            base,
            kinds,
        )
        return {item.kind: item.plain for item in items}
    crid = response.request.headers.get("client-request-id", "")
    reads: dict[CredentialKind, Read] = {}
    again: list[Wanted] = []
    wait = 0.0
    for key, item in by_id.items():
        answer = answers[key]
        if 200 <= answer.status < 300:
            reads[item.kind] = partial(item.parse, answer.body)
            continue
        call = Call("GET", item.action, t.tenant.client_id, t.tenant.tenant_id)
        if answer.status not in READ_AGAIN:
            error = error_from_response(_response(item, answer), call, crid, 1)
            reads[item.kind] = partial(_raise, error)
            continue
        delay, too_long = _delay(t, answer)
        if too_long is not None:  # as the plain read reports a Retry-After it will not wait out
            error = error_from_response(_response(item, answer), call, crid, 1, too_long)
            reads[item.kind] = partial(_raise, error)
            continue
        again.append(item)
        wait = max(wait, delay)
    if again:
        log.warning(
            "graph POST %s$batch: %s answered %s; read again in %.1f s",
            base,
            ", ".join(item.kind.value for item in again),
            ", ".join(str(answers[key].status) for key, item in by_id.items() if item in again),
            wait,
        )
        if wait > 0:
            t.retry.sleep(wait)
        reads.update({item.kind: item.plain for item in again})
    return reads


def joined_action(items: Sequence[Wanted]) -> str:
    """``read the push certificate and the ... tokens``: the batch's action, for its errors."""
    actions = [items[0].action] + [item.action.removeprefix("read ") for item in items[1:]]
    return actions[0] if len(actions) == 1 else ", ".join(actions[:-1]) + " and " + actions[-1]


def _answers(response: httpx.Response, ids: set[str]) -> dict[str, _Answer] | None:
    """Each request's answer by id; ``None`` unless there is exactly one per request."""
    try:
        document = response.json()
    except ValueError:
        return None
    responses = document.get("responses") if isinstance(document, dict) else None
    if not isinstance(responses, list):
        return None
    found: dict[str, _Answer] = {}
    for entry in responses:
        if not isinstance(entry, dict):
            return None
        key, status = entry.get("id"), entry.get("status")
        if not isinstance(key, str) or key not in ids or key in found:
            return None
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            return None
        raw = entry.get("headers")
        headers = (
            {str(k): v for k, v in raw.items() if isinstance(v, str)}
            if isinstance(raw, dict)
            else {}
        )
        found[key] = _Answer(status, headers, entry.get("body"))
    return found if len(found) == len(ids) else None


def _delay(t: GraphTransport, answer: _Answer) -> tuple[float, float | None]:
    """How long to wait before reading the item again, and the asked wait when it is too long."""
    if answer.status == 401:
        return 0.0, None  # the plain read refreshes the token itself
    policy = t.retry
    asked = policy.retry_after(httpx.Headers(answer.headers).get("Retry-After"))
    if asked is not None and asked > policy.max_total_wait:
        return asked, asked
    return (policy.backoff(1) if asked is None else asked), None


def _response(item: Wanted, answer: _Answer) -> httpx.Response:
    """A sub-response as the plain GET's response, for ``error_from_response``."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in _UNSAFE_HEADERS}
    request = httpx.Request("GET", item.url)
    if answer.body is None:
        return httpx.Response(answer.status, headers=headers, request=request)
    return httpx.Response(answer.status, headers=headers, json=answer.body, request=request)


def _raise(error: ApnsBotError) -> NoReturn:
    raise error
