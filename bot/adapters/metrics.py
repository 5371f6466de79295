"""Prometheus metrics of one running bot: what the last check of each tenant saw, and counters.

``PrometheusMetrics`` has its own ``CollectorRegistry`` (never the library's global one: two bots
in one process, as in the tests, each expose their own). It plays the ``Metrics`` port
(``bot.usecases.metrics``) and takes every ``CheckResult`` through ``observe`` (the watch's
``on_checked``). The gauges are rebuilt from the last check of each tenant at every scrape, so an
item that disappeared from Graph disappears from ``/metrics`` at that tenant's next check:

- ``apns_bot_expiry_timestamp_seconds{tenant,kind,name}``: expiry as a Unix time. ``name`` is
  ``push certificate`` for the push certificate (one per tenant), the ADE token's ``tokenName``,
  the VPP token's ``displayName`` or else ``organizationName``. A kind that could not be read keeps
  its last known items (the alert on expiry keeps firing while Graph is unreachable);
- ``apns_bot_check_success{tenant,kind}``: 1 when that kind was read, 0 when it could not be;
- ``apns_bot_last_check_timestamp_seconds{tenant}``: when the tenant was last checked.

Label values are bounded (``MAX_LABEL_CHARS``), free of control characters, and never hold an
Apple ID: a token name holding an e-mail address (Apple IDs are e-mail addresses) or the token's
own Apple ID is replaced by the token's Graph id. prometheus_client escapes what is left.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import re
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import Collector

from bot.core.model import TenantCertificate
from bot.core.tokens import AppleToken, CredentialKind, TokenRead
from bot.usecases.metrics import ApprovalOutcome, RequestOutcome, UploadOutcome
from bot.usecases.watch import CheckResult

log = logging.getLogger(__name__)

PUSH_NAME = "push certificate"
MAX_LABEL_CHARS = 80
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")


RENDER_REUSE_SECONDS = 5.0  # a render serves every scrape for this long, unless a metric moved

Encode = Callable[[CollectorRegistry], bytes]
ChooseEncoder = Callable[[str], tuple[Encode, str]]


@dataclass(frozen=True)
class Exposition:
    """One scrape's answer: the body, its content type and its encoding (gzip or None)."""

    body: bytes
    content_type: str
    content_encoding: str | None = None


class _Render(NamedTuple):
    answer: Exposition
    number: int  # renders are numbered in order
    changes: int  # how many changes it had seen
    at: float  # monotonic time


def _clean(text: str) -> str:
    """``text`` printable and on one line (any run of blanks or control characters: one space)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def label(text: str) -> str:
    """A label value: printable, single-line, at most ``MAX_LABEL_CHARS`` characters."""
    clean = _clean(text)
    if len(clean) <= MAX_LABEL_CHARS:
        return clean or "-"
    return clean[: MAX_LABEL_CHARS - 1] + "…"


def _token_name(token: AppleToken) -> str:
    """A token's name; its Graph id when the name holds an e-mail address or the token's Apple
    ID (in any case: not every Apple ID looks like an e-mail address)."""
    name = token.name or token.organization or ""
    apple_id = (token.apple_id or "").strip().casefold()
    if not name.strip() or _EMAIL.search(name) or (apple_id and apple_id in name.casefold()):
        return token.id
    return name


def token_label(token: AppleToken) -> str:
    """The ``name`` label of a token (its Graph id when the name holds an Apple ID)."""
    return label(_token_name(token))


def token_label_with_id(token: AppleToken) -> str:
    """The ``name`` label of a token whose name another token shares: the name cut short enough
    that `` (id)`` always fits after it."""
    suffix = f" ({_clean(token.id)})"
    room = MAX_LABEL_CHARS - len(suffix)
    if room < 1 or _token_name(token) == token.id:
        return label(token.id)
    return label(token_label(token)[:room].rstrip() + suffix)


@dataclass
class _Tenant:
    """What the checks of one tenant saw last, per kind."""

    expiry: dict[CredentialKind, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    success: dict[CredentialKind, bool] = field(default_factory=dict)
    last_check: float | None = None  # None: only seeded from the store, not checked yet


class _Checks(Collector):
    """The three gauges, built at scrape time from each tenant's last check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, _Tenant] = {}

    def observe(self, result: CheckResult) -> None:
        """Take one check; a check older than the last one taken (a retry that read Graph before
        the daily check but finished after it) is ignored."""
        with self._lock:
            seen = self._tenants.setdefault(label(result.tenant), _Tenant())
            at = result.checked_at.timestamp()
            if seen.last_check is not None and at < seen.last_check:
                log.debug("tenant %s: an older check result is ignored", result.tenant)
                return
            seen.last_check = at
            if CredentialKind.PUSH in result.watched or not result.watched:
                # ``state`` is the worst over every kind: the certificate's own read is ``error``
                read = result.error is None
                seen.success[CredentialKind.PUSH] = read
                if read:
                    seen.expiry[CredentialKind.PUSH] = _push(result.certificate)
            else:  # not watched (APNS_WATCH): no series, not even a seeded expiry
                seen.success.pop(CredentialKind.PUSH, None)
                seen.expiry.pop(CredentialKind.PUSH, None)
            if result.watched:  # a token kind no longer watched keeps no series either
                for kind in {*seen.success, *seen.expiry} - set(result.watched):
                    seen.success.pop(kind, None)
                    seen.expiry.pop(kind, None)
            for tokens in result.tokens:
                seen.success[tokens.kind] = tokens.ok
                if tokens.ok:
                    seen.expiry[tokens.kind] = _expiries(result.tenant, tokens)

    def seed(self, tenant: str, certificate: TenantCertificate | None) -> None:
        """The push certificate as the last check before a restart stored it, until this
        tenant's first check (its success is unknown till then: not shown)."""
        with self._lock:
            if label(tenant) not in self._tenants and certificate is not None:
                seeded = _Tenant(expiry={CredentialKind.PUSH: _push(certificate)})
                self._tenants[label(tenant)] = seeded

    def collect(self) -> Iterator[Metric]:
        expiry, success, last = _families()
        with self._lock:
            for tenant, seen in sorted(self._tenants.items()):
                if seen.last_check is not None:
                    last.add_metric([tenant], seen.last_check)
                for kind, ok in sorted(seen.success.items()):
                    success.add_metric([tenant, kind.value], 1.0 if ok else 0.0)
                for kind, items in sorted(seen.expiry.items()):
                    for name, at in items:
                        expiry.add_metric([tenant, kind.value, name], at)
        yield from (expiry, success, last)

    def describe(self) -> Iterable[Metric]:
        return _families()  # the names, so the registry refuses a clash at registration


def _push(certificate: TenantCertificate | None) -> tuple[tuple[str, float], ...]:
    expires = certificate.expires_at if certificate is not None and certificate.exists else None
    return ((PUSH_NAME, expires.timestamp()),) if expires is not None else ()


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    expiry = GaugeMetricFamily(
        "apns_bot_expiry_timestamp_seconds",
        "When each watched Apple credential expires (Unix time), as its tenant's last check "
        "read it.",
        labels=["tenant", "kind", "name"],
    )
    success = GaugeMetricFamily(
        "apns_bot_check_success",
        "1 when the tenant's last check read this kind, 0 when it could not.",
        labels=["tenant", "kind"],
    )
    last = GaugeMetricFamily(
        "apns_bot_last_check_timestamp_seconds",
        "When the tenant was last checked (Unix time).",
        labels=["tenant"],
    )
    return expiry, success, last


def _expiries(tenant: str, read: TokenRead) -> tuple[tuple[str, float], ...]:
    """One series per token with a known expiry. Every token whose label another one shares gets
    its id added (all of them, so a label does not depend on the order Graph lists them); a clash
    that remains (one id twice) keeps the earliest expiry, the one an alert must see."""
    dated = [(token, token.expires_at) for token in read.tokens if token.expires_at is not None]
    shared = Tally(token_label(token) for token, _ in dated)
    found: dict[str, float] = {}
    for token, expires_at in dated:
        name = token_label(token)
        if shared[name] > 1:
            name = token_label_with_id(token)
        at = expires_at.timestamp()
        if name in found:
            log.warning(
                "tenant %s: two %s tokens have one label; the earlier expiry is shown",
                tenant,
                read.kind,
            )
            at = min(at, found[name])
        found[name] = at
    return tuple(sorted(found.items()))


class PrometheusMetrics:
    """One bot's metrics (the ``Metrics`` port, and the watch's ``on_checked``)."""

    def __init__(
        self,
        *,
        choose: ChooseEncoder = choose_encoder,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``choose``: the format for an ``Accept`` header (prometheus_client's negotiation);
        ``monotonic``: the clock a render's age is measured with."""
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry()
        self._choose = choose
        self._monotonic = monotonic
        self._changes = itertools.count(1)  # next(): one more change, atomic under the GIL
        self._changed = 0
        self._renders: dict[tuple[str, bool], _Render] = {}
        self._rendered = 0  # how many renders have finished
        self._render_lock = threading.Lock()
        self._checks = _Checks()
        self.registry.register(self._checks)
        labels = ["kind", "outcome"]
        self._requests = Counter(
            "apns_bot_requests",
            "Renewal requests submitted, by what became of them.",
            labels,
            registry=self.registry,
        )
        self._approvals = Counter(
            "apns_bot_approvals",
            "Decisions on renewal requests: approvals, rejections, refused clicks, expiries.",
            labels,
            registry=self.registry,
        )
        self._uploads = Counter(
            "apns_bot_uploads",
            "Uploads to Intune, by how they ended.",
            labels,
            registry=self.registry,
        )
        push = CredentialKind.PUSH.value
        for counter, outcomes in (
            (self._requests, RequestOutcome),
            (self._approvals, ApprovalOutcome),
            (self._uploads, UploadOutcome),
        ):
            for outcome in outcomes:  # every series at 0 from the start: rate() sees the first one
                counter.labels(push, outcome.value)

    def observe(self, result: CheckResult) -> None:
        """Take one tenant's check; never raises (metrics must not break a check)."""
        try:
            self._checks.observe(result)
        except Exception:
            log.exception("could not record the check of %s in the metrics", result.tenant)
        self._change()

    def seed(self, tenant: str, certificate: TenantCertificate | None) -> None:
        """At start-up: the push certificate's expiry as stored by the last check (None: none
        stored), so a restart while Graph fails still has the expiry alert's series."""
        self._checks.seed(tenant, certificate)
        self._change()

    def _change(self) -> None:
        self._changed = next(self._changes)

    def requested(
        self, outcome: RequestOutcome, kind: CredentialKind = CredentialKind.PUSH
    ) -> None:
        self._requests.labels(kind.value, outcome.value).inc()
        self._change()

    def decided(self, outcome: ApprovalOutcome, kind: CredentialKind = CredentialKind.PUSH) -> None:
        self._approvals.labels(kind.value, outcome.value).inc()
        self._change()

    def uploaded(self, outcome: UploadOutcome, kind: CredentialKind = CredentialKind.PUSH) -> None:
        self._uploads.labels(kind.value, outcome.value).inc()
        self._change()

    def exposition(self, accept: str = "", accept_encoding: str = "") -> Exposition:
        """Everything above in the format ``accept`` asks for (prometheus_client's negotiation:
        the text format unless OpenMetrics is asked for), gzipped when ``accept_encoding``
        allows it.

        One render at a time: scrapes that arrive while one is under way wait for it and share
        it; a render also serves later scrapes for ``RENDER_REUSE_SECONDS`` while no metric has
        moved. A flood of scrapes costs one render, not one each."""
        encode, content_type = self._choose(accept)
        key = (content_type, gzip_accepted(accept_encoding))
        arrived = self._rendered
        with self._render_lock:
            last = self._renders.get(key)
            now = self._monotonic()
            if last is not None and (
                last.number > arrived
                or (last.changes == self._changed and now - last.at < RENDER_REUSE_SECONDS)
            ):
                return last.answer
            changes = self._changed  # before the render: a change during it renders again
            body = encode(self.registry)
            answer = (
                Exposition(gzip.compress(body, compresslevel=6), content_type, "gzip")
                if key[1]
                else Exposition(body, content_type)
            )
            self._rendered += 1
            self._renders[key] = _Render(answer, self._rendered, changes, now)
            return answer
