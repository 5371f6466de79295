"""A tenant's watched reads in one Microsoft Graph request: JSON batching (``POST {version}/$batch``).

The daily check reads three things per tenant (the push certificate, the ADE and the VPP token
lists). Microsoft's documented way to make several reads of one tenant at once is one
``POST {base}$batch`` carrying up to 20 requests (https://learn.microsoft.com/graph/json-batching):
``{"requests": [{"id": "1", "method": "GET", "url": "/deviceManagement/..."}, ...]}`` with URLs
relative to the batch's version, answered ``{"responses": [{"id", "status", "headers", "body"}]}``
in any order. One request instead of three costs a third of the HTTP work (the fleet check was
CPU-bound in the CLI: py-spy, docs/benchmarks.md) and needs no thread per kind.

``read_batched`` groups the wanted reads by the Graph base they go to (``GRAPH_URL``'s version;
ADE is always beta): a group of two or more is one batch, a group of one is the plain GET. The
batch goes through ``GraphTransport.send`` like any call (token, client-request-id, retries on
429/503/504 with Retry-After, one token refresh on 401). Then, per answer (matched by ``id``,
``bot.adapters.graph.batch_answers``):

- 2xx: parsed exactly as the plain read parses it; a collection's ``@odata.nextLink`` pages are
  fetched with plain GETs (``collect_pages``, the same host check and page bound). A body Graph
  sent as a string (it base64-encodes bodies that are not JSON) is read again plainly;
- 401, 429, 503, 504: read again after the longest ``Retry-After`` of them (else a backoff), as
  Microsoft's throttling guidance says: together in one new batch (one item: the plain GET), for
  at most the policy's attempts. A 401 is read again once, with a fresh token;
- any other status: the ``GraphError`` the plain read would raise (``error_from_response`` on the
  sub-response, same action: same message and code, a 403 naming the permission).

One tenant read has one ``Budget``: every wait (the transport's retries of the batch, the wait
before a new batch, the plain reads' retries) counts against the policy's ``max_total_wait`` and
every request against its ``max_attempts``, as a plain read's would. An item whose ``Retry-After``
would take the read past that bound is the error the plain read gives ("asked to wait N s").

When the batch itself fails in a way a plain read might not (400, 404, 405 or 501 from the
endpoint or a proxy) a warning is logged once, the client remembers that base refuses batching
and every item of it is read the plain way from then on. An answer without exactly one readable
response per request is a warning and plain reads too; so is one response apns-bot cannot handle
(that item only). Any other failure of the batch (a 5xx or 429 that outlasted the retries) is
every item's error; one without any answer (a transport error or timeout) is also the error of
every later read on the same Graph host in this tenant read: a dead host is not waited on twice.

Bodies and tokens never reach a log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from bot.adapters.graph.batch_answers import (
    FALLBACK,
    READ_AGAIN,
    Answer,
    answers_of,
    error_of,
)
from bot.adapters.graph.retry import Budget
from bot.adapters.graph.transport import GraphTransport
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError, GraphError

log = logging.getLogger(__name__)

MAX_BATCH = 20  # Graph's limit of requests in one batch

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

    @property
    def url(self) -> str:
        return self.base + self.path


class Batching:
    """What one client remembers between reads: the Graph bases that refused ``$batch``."""

    def __init__(self) -> None:
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def refuses(self, base: str) -> bool:
        with self._lock:
            return base in self._refused

    def remember_refusal(self, base: str, status: int | None) -> None:
        with self._lock:
            if base in self._refused:
                return
            self._refused.add(base)
        log.warning(
            "graph POST %s$batch answered %s: reading items one by one from now on (this client)",
            base,
            status,
        )


def read_batched(
    transport: GraphTransport, wanted: Sequence[Wanted], batching: Batching | None = None
) -> dict[CredentialKind, Read]:
    """Per wanted kind, its read: a batched answer's parse, its error, or the plain read."""
    run = _TenantRead(transport, batching or Batching())
    groups: dict[str, list[Wanted]] = {}
    for item in wanted:
        groups.setdefault(item.base, []).append(item)
    reads: dict[CredentialKind, Read] = {}
    for base, items in groups.items():
        for start in range(0, len(items), MAX_BATCH):
            reads.update(run.group(base, items[start : start + MAX_BATCH]))
    return reads


def joined_action(items: Sequence[Wanted]) -> str:
    """``read the push certificate and the ... tokens``: the batch's action, for its errors."""
    actions = [items[0].action] + [item.action.removeprefix("read ") for item in items[1:]]
    return actions[0] if len(actions) == 1 else ", ".join(actions[:-1]) + " and " + actions[-1]


def _no_answer(error: GraphError) -> bool:
    """The host gave no answer at all (a timeout, a refused or dropped connection, TLS)."""
    return error.status is None and isinstance(error.__cause__, httpx.TransportError)


def _root(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}".lower()


class _TenantRead:
    """One tenant's watched read: its budget, the hosts found dead, a token refreshed once."""

    def __init__(self, transport: GraphTransport, batching: Batching) -> None:
        self.t = transport
        self.batching = batching
        self.budget = Budget()
        self.dead: dict[str, GraphError] = {}  # by Graph root: a failure without any answer
        self.refreshed = False

    def group(self, base: str, items: list[Wanted]) -> dict[CredentialKind, Read]:
        dead = self.dead.get(_root(base))
        if dead is not None:
            return {item.kind: partial(_raise, dead) for item in items}
        if len(items) == 1 or self.batching.refuses(base):
            return {item.kind: self.plain(item) for item in items}
        return self._batches(base, items)

    def plain(self, item: Wanted) -> Read:
        return partial(self._plain, item)

    def _plain(self, item: Wanted) -> Any:
        """The plain GET (and its pages), within the tenant read's budget."""
        root = _root(item.base)
        dead = self.dead.get(root)
        if dead is not None:
            raise dead
        try:
            document = self.t.get_json(item.url, item.action, budget=self.budget)
        except GraphError as exc:
            if _no_answer(exc):
                self.dead.setdefault(root, exc)
            raise
        return item.parse(document)

    def _batches(self, base: str, items: list[Wanted]) -> dict[CredentialKind, Read]:
        """The group's batch, then a new batch of the items to read again, round after round."""
        reads: dict[CredentialKind, Read] = {}
        pending, first = items, True
        while pending:
            pending = self._round(base, pending, first, reads)
            first = False
            if len(pending) == 1:  # a group of one is the plain GET
                reads[pending[0].kind] = self.plain(pending[0])
                break
        return reads

    def _round(
        self, base: str, items: list[Wanted], first: bool, reads: dict[CredentialKind, Read]
    ) -> list[Wanted]:
        """One batch of ``items``: their reads into ``reads``; the items to read again (waited for)."""
        t = self.t
        by_id = {str(number): item for number, item in enumerate(items, start=1)}
        body = {
            "requests": [
                {"id": key, "method": "GET", "url": "/" + item.path} for key, item in by_id.items()
            ]
        }
        kinds = ", ".join(item.kind.value for item in items)
        try:
            response = t.send(
                "POST", base + "$batch", joined_action(items), json=body, budget=self.budget
            )
        except GraphError as exc:
            if exc.status in FALLBACK:
                if first:
                    self.batching.remember_refusal(base, exc.status)
                else:
                    log.warning(
                        "graph POST %s$batch answered %s: reading %s one by one",
                        base,
                        exc.status,
                        kinds,
                    )
                reads.update({item.kind: self.plain(item) for item in items})
                return []
            if _no_answer(exc):
                self.dead.setdefault(_root(base), exc)
            reads.update({item.kind: partial(_raise, exc) for item in items})  # as a plain read
            return []
        except ApnsBotError as exc:  # the sign-in failed: every item's error, as on the plain path
            reads.update({item.kind: partial(_raise, exc) for item in items})
            return []
        answers = answers_of(response, set(by_id))
        if answers is None:
            log.warning(
                "graph POST %s$batch: the answer does not hold one readable response per request: "
                "reading %s one by one",
                base,
                kinds,
            )
            reads.update({item.kind: self.plain(item) for item in items})
            return []
        crid = response.request.headers.get("client-request-id", "")
        again: list[tuple[Wanted, Answer, float]] = []
        for key, item in by_id.items():
            try:
                delay = self._settle(item, answers[key], crid, reads)
            except Exception as exc:  # noqa: BLE001 - never a whole tenant read for one answer
                log.warning(
                    "graph POST %s$batch: the answer for %s could not be handled (%s): "
                    "reading it on its own",
                    base,
                    item.kind.value,
                    type(exc).__name__,
                )
                reads[item.kind] = self.plain(item)
                continue
            if delay is not None:
                again.append((item, answers[key], delay))
        return self._wait_for(base, again, response.request)

    def _settle(
        self, item: Wanted, answer: Answer, crid: str, reads: dict[CredentialKind, Read]
    ) -> float | None:
        """The item's read into ``reads``, or the delay before reading it again."""
        if 200 <= answer.status < 300:
            if isinstance(answer.body, str):  # base64 of a body that is not JSON: read it plainly
                log.info(
                    "graph batch: %s answered %s with a string body: read on its own",
                    item.kind.value,
                    answer.status,
                )
                reads[item.kind] = self.plain(item)
            else:
                reads[item.kind] = partial(item.parse, answer.body)
            return None
        policy, spent = self.t.retry, self.budget

        def fail(too_long: float | None = None) -> float | None:  # the plain read's error
            error = error_of(self.t, item.url, item.action, answer, spent.tries, crid, too_long)
            reads[item.kind] = partial(_raise, error)
            return None

        if answer.status not in READ_AGAIN:
            return fail()
        if answer.status == 401:  # read again once with a fresh token; then Graph's refusal
            return fail() if self.refreshed else 0.0
        asked = policy.retry_after(answer.headers.get("retry-after"))
        if asked is not None and spent.waited + asked > policy.max_total_wait:
            return fail(too_long=asked)  # "asked to wait N s", longer than the budget left
        delay = policy.backoff(spent.tries) if asked is None else asked
        if not self.t.may_retry(spent.tries, spent.waited, delay):
            return fail()  # out of attempts: as the plain read's last answer
        return delay

    def _wait_for(
        self,
        base: str,
        again: list[tuple[Wanted, Answer, float]],
        sent_with: httpx.Request,
    ) -> list[Wanted]:
        """Wait once, the longest delay asked; a 401 among them: the next batch signs in again."""
        if not again:
            return []
        wait = max(delay for _, _, delay in again)
        log.warning(
            "graph POST %s$batch: %s answered %s; read again in %.1f s",
            base,
            ", ".join(item.kind.value for item, _, _ in again),
            ", ".join(str(answer.status) for _, answer, _ in again),
            wait,
        )
        if any(answer.status == 401 for _, answer, _ in again):
            self.refreshed = True
            self.t.forget_token(sent_with)
        if wait > 0:
            self.t.retry.sleep(wait)
            self.budget.waited += wait
        return [item for item, _, _ in again]


def _raise(error: ApnsBotError) -> NoReturn:
    raise error
