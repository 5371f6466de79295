"""The expiry watch: check one tenant's credentials, say what is due in its channel, exactly once.

A check reads every kind in the tenant's ``watch`` (``APNS_WATCH``) at the same time: the push
certificate here, the ADE and Apps and Books tokens in ``bot.usecases.token_watch`` (which posts
their reminders, problems and changes through ``_once`` below). One kind failing hides no other.
For the certificate, in this order:

1. reports a recovery when the previous check had failed (``delete_state`` returns True for one
   caller only, so one replica reports it);
2. compares it with the last certificate seen (the store's snapshot) and reports a change made
   outside the bot; the snapshot then moves on (the renewal workflow moves it itself after its
   own uploads, so those are not reported as outside changes);
3. posts the reminder that is due, if any.

A failed read is recorded as "check failing since …" (``set_state(only_if_absent=True)``) and
reported once, however many checks fail after it. Every notice is marked with
``mark_notice_once`` before it is posted, so it goes out once across restarts and replicas; when
Slack refuses the post, a retry mark lets the next check post it again, and ``retry_refused``
(every 15 minutes in a running bot) makes that next check come soon. The outcome is returned as a
``CheckResult`` whose ``state`` (the worst over every kind) is what ``apns-bot check`` exits with;
``on_checked`` sees it after each tenant (docs/apple-tokens.md, "For code that listens").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Settings, TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import (
    Change,
    CheckState,
    Origin,
    Reminder,
    change_origin,
    check_state,
    detect_change,
    due_reminder,
)
from bot.core.requests import Event, JSONValue, Status
from bot.core.tokens import CredentialKind, TokenRead
from bot.errors import ApnsBotError
from bot.usecases.ports import Graphs, Store, WatchNotifier
from bot.usecases.tenant_pool import MAX_CONCURRENT_TENANTS, per_tenant
from bot.usecases.token_watch import (
    TenantRead,
    TokenWatch,
    overall_state,
    read_error,
    read_tenant,
)
from bot.usecases.unwatched import Markers, all_markers, forget_unwatched
from bot.usecases.watch_state import (
    FAILING_KEY,
    RETRY_PREFIX,
    Delivery,
    FailingCheck,
    RetryMark,
    failing_since,
)

log = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(days=1)  # first refused longer ago: left to the daily check
AUDIT_ERROR_CHARS = 300  # the audit keeps the gist; the channel message has all of it


@dataclass(frozen=True)
class CheckResult:
    tenant: str
    state: CheckState
    checked_at: datetime
    certificate: TenantCertificate | None = None
    error: str | None = None  # user-safe reason when the check failed
    change: Change | None = None
    reminder: Reminder | None = None  # the reminder that is due (posted now or before)
    posted: tuple[str, ...] = ()  # what this check posted, e.g. ("reminder 30",)
    tokens: tuple[TokenRead, ...] = ()  # the ADE and VPP reads of this check, one per watched kind
    # the kinds this check watched; without ``push`` there, ``certificate`` and ``error`` are None
    # (the push certificate was not read) and ``state`` is the tokens' alone
    watched: tuple[CredentialKind, ...] = ()


@dataclass(frozen=True)
class Tracked:
    """What comparing a read with the last certificate seen found."""

    change: Change | None = None  # a change made outside the bot
    posted: bool = False  # this check posted it
    stale: bool = False  # the read predates the bot's own upload: the snapshot is newer


class Watch:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        graph: Graphs,
        notifier: WatchNotifier,
        clock: Callable[[], datetime],
        *,
        on_checked: Callable[[CheckResult], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.zone = ZoneInfo(settings.timezone)  # reminders count days in the check's zone
        self.graph = graph
        self.notifier = notifier
        self.clock = clock
        self.on_checked = on_checked
        self.tokens = TokenWatch(store, notifier, self._once, self.zone)

    def check_all(self, max_workers: int = MAX_CONCURRENT_TENANTS) -> list[CheckResult]:
        """Check every tenant concurrently on a bounded pool; one tenant's failure, slowness or
        throttling never stops or delays the others (each has its own Graph retry budget)."""
        return self._check_each(list(self.settings.tenants.values()), max_workers)

    def retry_refused(self, max_workers: int = MAX_CONCURRENT_TENANTS) -> list[CheckResult]:
        """Check again now each tenant with a notice Slack refused (or a post lost to a crash) in
        the last ``RETRY_WINDOW``: a reminder, an outside change or a failing check then goes out
        within minutes of Slack taking posts again, not at the next daily check. A check posts
        only what is still due, each notice once; older marks are left to the daily check."""
        now = self.clock()
        marks = [
            (tenant, RetryMark.read(value, written))
            for tenant, _, value, written in self.store.list_states(RETRY_PREFIX)
        ]
        due = {
            tenant
            for tenant, mark in marks
            if now - mark.since < RETRY_WINDOW and not mark.in_flight(now)
        }
        tenants = [t for name, t in self.settings.tenants.items() if name in due]
        if tenants:
            log.info("retrying refused notices of %s", ", ".join(t.name for t in tenants))
        return self._check_each(tenants, max_workers)

    def _check_each(self, tenants: list[TenantSettings], max_workers: int) -> list[CheckResult]:
        results: dict[str, CheckResult] = {}
        markers = all_markers(self.store) if tenants else {}  # one read for every tenant

        def check(tenant: TenantSettings) -> CheckResult:
            return self.check(tenant, markers=markers.get(tenant.name, {}))

        for tenant, future in per_tenant(
            tenants, check, max_workers=max_workers, name="apns-check"
        ):
            try:
                results[tenant.name] = future.result()
            except Exception:  # a bug in one tenant's check must not hide the others
                log.exception("the check of tenant %s failed unexpectedly", tenant.name)
        return [results[t.name] for t in tenants if t.name in results]

    def check(self, tenant: TenantSettings, *, markers: Markers | None = None) -> CheckResult:
        """Read every watched kind at once, then post what is due for each (one kind's failure
        hides no other); ``state`` is the worst over every kind. ``markers``: the tenant's
        ``unwatched:`` markers when the caller read them (``check_all``: every tenant's at once)."""
        now = self.clock()
        forget_unwatched(self.store, tenant, now, markers)  # a kind unwatched for a week: dropped
        read = self._read(tenant)
        push_error = read.error.user_message if read.error is not None else None
        said = _first_failure(tenant, read)
        posted: list[str] = []
        reads: list[TokenRead] = []
        for kinds_read in read.tokens:  # a kind failing as another one did: one notice says it
            error = kinds_read.error
            same_cause = (
                error is not None
                and said is not None
                and said[0] is not kinds_read.kind
                and said[1] == error.code
            )
            tracked = self.tokens.track(tenant, kinds_read, now, announce=not same_cause)
            posted += tracked.posted
            reads.append(tracked.read)
        read = replace(read, tokens=tuple(reads))
        if not tenant.watches(CredentialKind.PUSH):
            result = CheckResult(tenant=tenant.name, state=CheckState.OK, checked_at=now)
        elif read.certificate is None:
            result = self._failed(tenant, push_error or "not read", now)
        else:
            result = self._succeeded(tenant, read.certificate, now)
        if result.state is not CheckState.FAILED and all(r.ok for r in read.tokens):
            self._drop_stale_retries(tenant, now)
        result = replace(
            result,
            state=overall_state(tenant, result.state, read.tokens, now),
            posted=(*result.posted, *posted),
            tokens=read.tokens,
            watched=tenant.watch,
        )
        log.info("check of %s: %s%s", tenant.name, result.state.name, _posted(result))
        if self.on_checked is not None:
            self.on_checked(result)
        return result

    def _read(self, tenant: TenantSettings) -> TenantRead:
        try:
            client = self.graph(tenant)
        except ApnsBotError as exc:  # no client at all: every kind fails the same way
            reads = tuple(TokenRead(k, error=read_error(exc)) for k in tenant.token_kinds)
            return TenantRead(error=exc, tokens=reads)
        return read_tenant(client, tenant)

    # --- outcomes ----------------------------------------------------------------------------

    def _succeeded(
        self, tenant: TenantSettings, certificate: TenantCertificate, now: datetime
    ) -> CheckResult:
        posted: list[str] = []
        if self._recovered(tenant, now):
            posted.append("recovered")
        tracked = self._track(tenant, certificate, now)
        change = tracked.change
        if change is not None and tracked.posted:
            posted.append(f"change {change.kind.value}")
        if (
            tracked.stale
        ):  # remind about (and show) the certificate the bot just uploaded, not the old one
            certificate = self.store.get_snapshot(tenant.name) or certificate
        reminder = due_reminder(certificate, now, tenant.remind_days, self.zone)
        if reminder is not None and self._remind(tenant, certificate, reminder, now):
            posted.append(f"reminder {reminder.threshold}")
        return CheckResult(
            tenant=tenant.name,
            state=check_state(certificate, now, tenant.remind_days),
            checked_at=now,
            certificate=certificate,
            change=change,
            reminder=reminder,
            posted=tuple(posted),
        )

    def _track(
        self, tenant: TenantSettings, certificate: TenantCertificate, now: datetime
    ) -> Tracked:
        """Compare with the last certificate seen, report a change once, move the snapshot on."""
        previous = self.store.get_snapshot(tenant.name)
        change = detect_change(previous, certificate)
        if change is not None:
            applied = [  # the push certificate's own: token renewals never change its serial
                r
                for r in self.store.list_requests(tenant.name, [Status.APPLIED], limit=50)
                if r.token is None
            ][:5]
            origin = change_origin(change, applied)
            if origin is Origin.STALE:
                return Tracked(stale=True)
            if origin is Origin.BOT:
                change = None
        delivery = None
        if change is not None:
            post = partial(self.notifier.post_change, tenant, change, now)
            delivery = self._once(tenant, change.key, now, post)
            if delivery is Delivery.POSTED:
                facts = _facts(change)
                self.store.audit(tenant.name, Event.EXTERNAL_CHANGE, "system", now, detail=facts)
        # a refused post keeps the old snapshot (retried); an unchanged one is not written again
        if delivery is not Delivery.REFUSED and certificate != previous:
            self.store.set_snapshot(tenant.name, certificate, now)
        return Tracked(change, posted=delivery is Delivery.POSTED)

    def _remind(
        self,
        tenant: TenantSettings,
        certificate: TenantCertificate,
        reminder: Reminder,
        now: datetime,
    ) -> bool:
        post = partial(self.notifier.post_reminder, tenant, certificate, reminder)
        if self._once(tenant, reminder.key, now, post) is not Delivery.POSTED:
            return False
        detail: dict[str, JSONValue] = {
            "threshold": reminder.threshold,
            "days_left": reminder.days_left,
            "serial": certificate.serial,
        }
        self.store.audit(tenant.name, Event.REMINDER_POSTED, "system", now, detail=detail)
        return True

    def _failed(self, tenant: TenantSettings, error: str, now: datetime) -> CheckResult:
        value = FailingCheck(now, error).to_json()
        if self.store.set_state(tenant.name, FAILING_KEY, value, now, only_if_absent=True):
            detail: dict[str, JSONValue] = {"error": error[:AUDIT_ERROR_CHARS]}
            self.store.audit(tenant.name, Event.CHECK_FAILED, "system", now, detail=detail)
        failing = failing_since(self.store.get_state(tenant.name, FAILING_KEY))
        since = failing.since if failing is not None else now
        key = f"check_failed:{since.isoformat()}"
        post = partial(self.notifier.post_check_failed, tenant, error, since)
        delivered = self._once(tenant, key, now, post) is Delivery.POSTED
        return CheckResult(
            tenant=tenant.name,
            state=CheckState.FAILED,
            checked_at=now,
            error=error,
            posted=("check failed",) if delivered else (),
        )

    def _recovered(self, tenant: TenantSettings, now: datetime) -> bool:
        """Report the end of a failing streak; only the caller that clears the state reports it
        (a refused post is not retried: the next failure or the App Home tells the story)."""
        failing = failing_since(self.store.get_state(tenant.name, FAILING_KEY))
        if failing is None or not self.store.delete_state(tenant.name, FAILING_KEY):
            return False
        since = failing.since
        self.store.audit(
            tenant.name, Event.CHECK_RECOVERED, "system", now, detail={"since": since.isoformat()}
        )
        return self.notifier.post_check_recovered(tenant, since, now)

    def _drop_stale_retries(self, tenant: TenantSettings, now: datetime) -> None:
        """After a successful check, a retry mark it did not write is for a notice no longer due
        (another threshold now, a renewed certificate, a failure that ended): drop it, or the
        retry ticker would re-read this tenant all day for nothing. Compare-and-delete, so a mark
        another replica rewrote meanwhile stays."""
        for _, key, value, written in self.store.list_states(RETRY_PREFIX, tenant.name):
            if written < now and not RetryMark.read(value, written).in_flight(now):
                self.store.delete_state(tenant.name, key, expected=value)

    def _once(
        self, tenant: TenantSettings, key: str, now: datetime, post: Callable[[], bool]
    ) -> Delivery:
        """Post under ``key`` once ever. A retry mark is set before posting and cleared only once
        the post went out, so a refused post, an exception or a crash in between leaves it for
        the next check, which one caller claims by replacing it (compare-and-set)."""
        retry = RETRY_PREFIX + key
        if self.store.mark_notice_once(tenant.name, key, now):
            posting = RetryMark(since=now, posting=now)
            self.store.set_state(tenant.name, retry, posting.to_json(), now)
        else:
            value = self.store.get_state(tenant.name, retry)
            if value is None:  # posted already
                return Delivery.ALREADY
            mark = RetryMark.read(value, now)
            if mark.in_flight(now):  # another replica is posting it now
                return Delivery.ALREADY
            posting = RetryMark(since=mark.since, posting=now)
            # the claim is one compare-and-set: of two callers that read the same mark, one wins
            if not self.store.replace_state(tenant.name, retry, value, posting.to_json(), now):
                return Delivery.ALREADY
        if post():
            self.store.delete_state(tenant.name, retry)
            return Delivery.POSTED
        refused = RetryMark(since=posting.since, refused=now)
        self.store.set_state(tenant.name, retry, refused.to_json(), now)
        log.warning(
            "could not post the %s notice for %s to Slack; a later check tries again",
            notice_name(key),
            tenant.name,
        )
        return Delivery.REFUSED


def _first_failure(tenant: TenantSettings, read: TenantRead) -> tuple[CredentialKind, str] | None:
    """The failure that is announced for every kind failing the same way (a sign-in failure, a
    missing permission): the certificate's when it is watched, else the first token kind's."""
    if read.error is not None:
        return (CredentialKind.PUSH, read_error(read.error).code)
    if tenant.watches(CredentialKind.PUSH):
        return None
    first = next((r for r in read.tokens if r.error is not None), None)
    return (first.kind, first.error.code) if first is not None and first.error else None


def _facts(change: Change) -> dict[str, JSONValue]:
    after, before = change.current, change.previous
    return {
        "kind": change.kind.value,
        "topic": after.topic,
        "previous_topic": before.topic,
        "serial": after.serial,
        "previous_serial": before.serial,
        "expires_at": after.expires_at.isoformat() if after.expires_at else None,
    }


def _posted(result: CheckResult) -> str:
    return f" (posted: {', '.join(result.posted)})" if result.posted else ""


def notice_name(key: str) -> str:
    """A notice's kind for log lines, without the timestamps and serials that make its key unique
    (``check_failed:2026-…`` -> ``check failed``)."""
    return key.split(":", 1)[0].replace("_", " ")
