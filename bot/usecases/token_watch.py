"""The watch of ADE and Apps and Books (VPP) tokens: read each kind, say what is due, exactly once.

Reading. ``read_tenant`` reads the push certificate and every watched token kind of one tenant
with one ``GraphClient.read_watched`` (``bot.usecases.watched``): one Graph request where it can
(JSON batching), so a tenant costs one round trip, not three. Each kind still succeeds or fails on
its own: a 403 (no permission, or a tenant without Intune's Apple features), a timeout or a
garbled answer becomes that kind's ``ReadError`` and hides no other kind.

Telling. ``TokenWatch.track`` handles one kind as read by one check:

- unreadable: recorded as "failing since" (``token_failing:<kind>``, written only if absent) and
  posted once per streak; a later successful read ends the streak quietly (audited);
- readable: what changed since the snapshot (``token_snapshot:<kind>``: appeared, disappeared,
  renewed outside apns-bot), problems (a state other than valid, a sync failing for over a day:
  the snapshot keeps when each token's failing sync was first seen)
  and due reminders (``bot.core.token_watch``), each posted once through the watch's ``once``
  (``mark_notice_once`` plus a retry mark, as for the push certificate: once across restarts and
  replicas, and a refused post is tried again by the next check). The snapshot then moves on,
  unless posting a change was refused (the next check then sees the change again).

Everything lives in the store's tenant state and notice marks (the ``NoticeStore`` role), no new
tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Protocol

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState
from bot.core.requests import ChangeRequest, JSONValue, Status
from bot.core.token_watch import (
    NoticeKind,
    TokenNotice,
    own_renewal,
    snapshot_json,
    snapshot_tokens,
    token_notices,
    tokens_state,
)
from bot.core.tokens import (
    AppleToken,
    CredentialKind,
    ReadError,
    TokenRead,
    time_sync_failures,
)
from bot.errors import ApnsBotError, AuthError, GraphError
from bot.usecases.ports import AuditLog, GraphClient, NoticeStore
from bot.usecases.watch_state import Delivery, FailingCheck, failing_since
from bot.usecases.watched import Tokens, UnexpectedReadError

log = logging.getLogger(__name__)

SNAPSHOT_PREFIX = "token_snapshot:"  # tenant_state: {"tokens": [...]} as last seen, per kind
FAILING_PREFIX = "token_failing:"  # tenant_state: {"since", "error"} while a kind cannot be read
AUDIT_ERROR_CHARS = 300
CHANGES = frozenset({NoticeKind.APPEARED, NoticeKind.DISAPPEARED, NoticeKind.RENEWED})


@dataclass(frozen=True)
class Tracked:
    """What ``TokenWatch.track`` did for one kind."""

    posted: list[str]  # what this check posted, e.g. ["vpp reminder 30"]
    read: TokenRead  # the read, each failing sync timed from the snapshot


class TokenStore(NoticeStore, AuditLog, Protocol):
    """What the token watch needs from the store (``Store`` plays it)."""

    def list_requests(
        self, tenant: str, statuses: Iterable[Status] | None = None, limit: int = 50
    ) -> list[ChangeRequest]: ...


class TokenNotifier(Protocol):
    """What the token watch needs from Slack (``WatchNotifier`` plays it)."""

    def post_token_notice(self, tenant: TenantSettings, notice: TokenNotice) -> bool: ...

    def post_token_read_failed(
        self, tenant: TenantSettings, kind: CredentialKind, error: ReadError, since: datetime
    ) -> bool: ...


Once = Callable[[TenantSettings, str, datetime, Callable[[], bool]], Delivery]
"""The watch's once-only post (``Watch._once``): the key, and the post to make under it."""


# --- reading -------------------------------------------------------------------------------------


def read_error(exc: ApnsBotError) -> ReadError:
    """Graph's error code when it gave one, else the bot's own: ``forbidden``, ``unreachable``,
    ``signin_failed``, ``http_<status>``, ``unexpected`` (a bug), ``unreadable``."""
    if isinstance(exc, GraphError):
        if exc.code:
            code = exc.code
        elif exc.status == 403:
            code = "forbidden"
        elif exc.status is None:
            code = "unreachable"
        else:
            code = f"http_{exc.status}"
    elif isinstance(exc, AuthError):
        code = "signin_failed"
    elif isinstance(exc, UnexpectedReadError):
        code = "unexpected"
    else:
        code = "unreadable"
    return ReadError(code=code, message=exc.user_message)


def token_read(kind: CredentialKind, found: Tokens | ApnsBotError | None) -> TokenRead:
    """One kind as ``read_watched`` found it (nothing found: a double forgot it, a bug)."""
    if found is None:
        found = UnexpectedReadError(kind)
    if isinstance(found, ApnsBotError):
        return TokenRead(kind, error=read_error(found))
    return TokenRead(kind, found)


@dataclass(frozen=True)
class TenantRead:
    """One tenant's watched credentials as one read found them."""

    certificate: TenantCertificate | None = None  # None: not watched, or it could not be read
    error: ApnsBotError | None = None  # why the certificate could not be read
    tokens: tuple[TokenRead, ...] = ()  # one per watched token kind, in watch order


def read_tenant(client: GraphClient, tenant: TenantSettings) -> TenantRead:
    """The push certificate (if watched) and every watched token kind: one ``read_watched``
    (one Graph request where it can be)."""
    kinds = tenant.token_kinds
    push = tenant.watches(CredentialKind.PUSH)
    if not kinds and not push:
        return TenantRead()
    found = client.read_watched(push, kinds)
    certificate = found.certificate
    return TenantRead(
        certificate=certificate if isinstance(certificate, TenantCertificate) else None,
        error=certificate if isinstance(certificate, ApnsBotError) else None,
        tokens=tuple(token_read(kind, found.tokens.get(kind)) for kind in kinds),
    )


def overall_state(
    tenant: TenantSettings, push: CheckState, reads: tuple[TokenRead, ...], now: datetime
) -> CheckState:
    """The worst over every kind (``push``: the certificate's, ``OK`` when it is not watched);
    a kind that could not be read is ``FAILED``."""
    states = [push] + [
        CheckState.FAILED
        if read.error is not None
        else tokens_state(read.tokens, now, tenant.remind_days_for(read.kind))
        for read in reads
    ]
    return max(states)


def timed_read(
    read: TokenRead, previous: tuple[AppleToken, ...] | None, now: datetime
) -> TokenRead:
    """``read`` with each failing sync timed against ``previous`` (the kind's snapshot)."""
    if read.error is not None:
        return read
    return TokenRead(read.kind, time_sync_failures(previous, read.tokens, now))


def with_failures_timed(
    store: NoticeStore, tenant: TenantSettings, reads: Iterable[TokenRead], now: datetime
) -> tuple[TokenRead, ...]:
    """Each kind read now, its failing syncs timed against the stored snapshot exactly as the
    daily check times them (``TokenWatch.track``), for a view that read Graph itself (``/apns
    status``, App Home): a VPP failure the check has alerted on shows since when, and counts as
    a problem here too. Nothing is written: only the check moves the snapshot on."""
    return tuple(
        timed_read(read, _snapshot(store, tenant, read.kind), now) if read.error is None else read
        for read in reads
    )


def _snapshot(
    store: NoticeStore, tenant: TenantSettings, kind: CredentialKind
) -> tuple[AppleToken, ...] | None:
    return snapshot_tokens(kind, store.get_state(tenant.name, SNAPSHOT_PREFIX + kind.value))


def last_seen(store: NoticeStore, tenant: TenantSettings) -> tuple[TokenRead, ...]:
    """Each watched token kind as the last check saw it (no Graph read): its snapshot, or why
    it has been failing; a kind never checked yet reads as having no token."""
    reads: list[TokenRead] = []
    for kind in tenant.token_kinds:
        failing = failing_since(store.get_state(tenant.name, FAILING_PREFIX + kind.value))
        if failing is not None:
            why = f"{failing.error} (failing since {failing.since:%Y-%m-%d %H:%M} UTC)"
            reads.append(TokenRead(kind, error=ReadError("failing", why)))
            continue
        seen = snapshot_tokens(kind, store.get_state(tenant.name, SNAPSHOT_PREFIX + kind.value))
        reads.append(TokenRead(kind, seen or ()))
    return tuple(reads)


# --- telling -------------------------------------------------------------------------------------


class TokenWatch:
    def __init__(
        self, store: TokenStore, notifier: TokenNotifier, once: Once, zone: tzinfo = UTC
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.once = once
        self.zone = zone  # expired tokens' reminders count calendar days here

    def track(
        self, tenant: TenantSettings, read: TokenRead, now: datetime, *, announce: bool = True
    ) -> Tracked:
        """Post what is due for one kind; returns what this check posted (``CheckResult.posted``)
        and the read with each failing sync timed (``AppleToken.failing_since``, from the
        snapshot). ``announce`` False: a failed read is recorded, not posted (the push
        certificate's failure notice already says the same, e.g. the sign-in failed)."""
        if read.error is not None:
            return Tracked(self._failing(tenant, read.kind, read.error, now, announce), read)
        self._recovered(tenant, read.kind, now)
        key = SNAPSHOT_PREFIX + read.kind.value
        stored = self.store.get_state(tenant.name, key)
        previous = snapshot_tokens(read.kind, stored)
        read = timed_read(read, previous, now)
        days = tenant.remind_days_for(read.kind)
        due = token_notices(previous, read.tokens, now, days, self.zone)
        due = self._own_renewals(tenant, due)
        posted: list[str] = []
        keep_snapshot = False
        for notice in due:
            post = partial(self.notifier.post_token_notice, tenant, notice)
            delivery = self.once(tenant, notice.key, now, post)
            if delivery is Delivery.POSTED:
                posted.append(notice.label)
                self.store.audit(tenant.name, "token_notice", "system", now, detail=_facts(notice))
            keep_snapshot |= delivery is Delivery.REFUSED and notice.what in CHANGES
        snapshot = snapshot_json(read.tokens)
        # a refused change keeps the old snapshot (the next check retries); an unchanged one is not
        # written again (a write is a durable commit: three per tenant on a quiet day, otherwise)
        if not keep_snapshot and snapshot != stored:
            self.store.set_state(tenant.name, key, snapshot, now)
        return Tracked(posted, read)

    def _own_renewals(self, tenant: TenantSettings, due: list[TokenNotice]) -> list[TokenNotice]:
        """A renewal that is an applied token request's upload is the bot's own: not announced as
        "outside apns-bot". If that request's result had no new expiry yet (Intune showed it
        later), the expiry is posted once now, under the request's own key."""
        if not any(n.what is NoticeKind.RENEWED for n in due):
            return due
        applied = [
            r
            for r in self.store.list_requests(tenant.name, [Status.APPLIED], limit=20)
            if r.token is not None
        ]
        kept: list[TokenNotice] = []
        for notice in due:
            request = own_renewal(notice, applied)
            if request is None:
                kept.append(notice)
            elif request.result is None or request.result.expiry is None:
                key = f"token_renewal_shown:{request.id}"
                kept.append(replace(notice, key=key, by_request=request.id))
        return kept

    def _failing(
        self,
        tenant: TenantSettings,
        kind: CredentialKind,
        error: ReadError,
        now: datetime,
        announce: bool,
    ) -> list[str]:
        key = FAILING_PREFIX + kind.value
        value = FailingCheck(now, error.message).to_json()
        if self.store.set_state(tenant.name, key, value, now, only_if_absent=True):
            detail: dict[str, JSONValue] = {
                "kind": kind.value,
                "code": error.code,
                "error": error.message[:AUDIT_ERROR_CHARS],
            }
            self.store.audit(tenant.name, "token_read_failed", "system", now, detail=detail)
        if not announce:
            return []
        failing = failing_since(self.store.get_state(tenant.name, key))
        since = failing.since if failing is not None else now
        notice = f"token_read_failed:{kind.value}:{since.isoformat()}"
        post = partial(self.notifier.post_token_read_failed, tenant, kind, error, since)
        delivered = self.once(tenant, notice, now, post) is Delivery.POSTED
        return [f"{kind.value} read failed"] if delivered else []

    def _recovered(self, tenant: TenantSettings, kind: CredentialKind, now: datetime) -> None:
        key = FAILING_PREFIX + kind.value
        failing = failing_since(self.store.get_state(tenant.name, key))
        if failing is not None and self.store.delete_state(tenant.name, key):
            detail: dict[str, JSONValue] = {"kind": kind.value, "since": failing.since.isoformat()}
            self.store.audit(tenant.name, "token_read_recovered", "system", now, detail=detail)


def _facts(notice: TokenNotice) -> dict[str, JSONValue]:
    token = notice.token
    facts: dict[str, JSONValue] = {
        "kind": token.kind.value,
        "notice": notice.what.value,
        "name": token.name or token.id,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }
    if notice.threshold is not None:
        facts["threshold"] = notice.threshold
    if notice.problem is not None:
        facts["problem"] = notice.problem.value
    return facts
