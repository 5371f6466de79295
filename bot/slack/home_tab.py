"""The App Home tab: published when someone opens it and again after every change.

Whoever opens the tab is remembered per tenant (a once-only mark in the store, so every replica
knows them); after a check, a renewal request, a decision or an upload the tab is re-rendered and
published to them. Refreshes are coalesced per tenant and run on the bot's executor, never on the
acknowledgement path. Its listeners: ``bot.slack.listeners.home``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View

from bot.config import Settings, TenantSettings
from bot.core.fleet import FleetRow, sort_by_urgency
from bot.core.items import WatchItem, fleet_row_of, tenant_items
from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest, Status
from bot.core.token_watch import snapshot_tokens
from bot.core.tokens import CredentialKind, ReadError, TokenRead
from bot.errors import ApnsBotError
from bot.slack.views.home import (
    FLEET_HOME_AFTER,
    TenantHome,
    fleet_home_view,
    home_view,
    nothing_shown_view,
)
from bot.slack.visibility import visible_tenants
from bot.usecases.ports import Executor, GraphClient, Notifier, Store
from bot.usecases.token_watch import (
    SNAPSHOT_PREFIX,
    TenantRead,
    last_seen,
    read_error,
    read_tenant,
    with_failures_timed,
)
from bot.usecases.watch import CheckResult
from bot.usecases.watch_state import FAILING_KEY, failing_since

if TYPE_CHECKING:
    from bot.slack.approvers import ApproverDirectory

log = logging.getLogger(__name__)

VIEWER_PREFIX = "home_viewer:"
FLEET_KEY = "*"  # the one queued refresh of a fleet's tabs
FLEET_REFRESH_SECONDS = 10.0
MAX_VIEWERS = 500
OPEN_STATUSES = (Status.PENDING, Status.APPROVED, Status.APPLYING, Status.FAILED)
HOME_REQUESTS = 5
HOME_EVENTS = 8


def start_daemon_timer(delay: float, action: Callable[[], None]) -> None:
    """Run ``action`` once after ``delay`` seconds on a thread that never holds up shutdown."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()


class HomePublisher:
    def __init__(
        self,
        settings: Settings,
        client: WebClient,
        store: Store,
        graph: Callable[[TenantSettings], GraphClient],
        background: Executor,
        clock: Callable[[], datetime],
        directory: ApproverDirectory,
    ) -> None:
        self.directory = directory  # who may see which tenant (bot.core.visibility)
        self.settings = settings
        self.client = client
        self.store = store
        self.graph = graph
        self.background = background
        self.clock = clock
        self._lock = threading.Lock()
        self.fleet_refresh_seconds = FLEET_REFRESH_SECONDS
        self.start_timer: Callable[[float, Callable[[], None]], None] = start_daemon_timer
        self._queued: dict[str, CheckResult | None] = {}

    def opened(self, user_id: str) -> bool:
        """Remember ``user_id`` as a viewer of every tenant and publish their tab (showing only
        the tenants they may see)."""
        now = self.clock()
        for tenant in self.settings.tenants.values():
            self.store.mark_notice_once(tenant.name, VIEWER_PREFIX + user_id, now)
        return self._publish(user_id, self.view(shown=self.shown_to(user_id)))

    def shown_to(self, user_id: str) -> tuple[str, ...]:
        """The tenants ``user_id`` may see in the Home tab (no channel: approvers and viewers)."""
        tenants = self.settings.tenants.values()
        return tuple(t.name for t in visible_tenants(self.directory, tenants, user_id))

    def after_check(self, result: CheckResult) -> None:
        """Refresh with what the check just read (no second Graph read)."""
        self.refresh_soon(result.tenant, result)

    def refresh_soon(self, tenant: str, result: CheckResult | None = None) -> None:
        """Queue one refresh of ``tenant``'s viewers; bursts of changes coalesce into one.

        With a fleet, every tab shows every tenant: one fleet-wide refresh, at most one per
        ``FLEET_REFRESH_SECONDS``, however many tenants a check just went through (publishing
        per tenant would cost tenants x viewers views.publish calls against Slack's rate limit).
        """
        if len(self.settings.tenants) > FLEET_HOME_AFTER:
            self._refresh_fleet_later()
            return
        with self._lock:
            queued = tenant in self._queued
            if result is not None or not queued:
                self._queued[tenant] = result
        if not queued:
            self.background.submit(self._refresh_queued, tenant)

    def _refresh_fleet_later(self) -> None:
        with self._lock:
            if FLEET_KEY in self._queued:
                return
            self._queued[FLEET_KEY] = None
        self.start_timer(self.fleet_refresh_seconds, self._submit_fleet_refresh)

    def _submit_fleet_refresh(self) -> None:
        with self._lock:
            self._queued.pop(FLEET_KEY, None)
        first = next(iter(self.settings.tenants))  # opened() marks a viewer under every tenant
        try:
            self.background.submit(self.refresh, first)
        except RuntimeError:  # the bot is shutting down: nobody to refresh for
            log.debug("fleet Home refresh dropped: shutting down")

    def _refresh_queued(self, tenant: str) -> None:
        with self._lock:
            result = self._queued.pop(tenant, None)
        self.refresh(tenant, {tenant: result} if result is not None else {})

    def refresh(self, tenant: str, checked: Mapping[str, CheckResult] | None = None) -> int:
        """Publish the tab to every viewer of ``tenant``; returns how many got it. Each viewer
        sees only the tenants they may see: one view is rendered per distinct set."""
        marks = self.store.list_notices(tenant, VIEWER_PREFIX)
        viewers = [key[len(VIEWER_PREFIX) :] for key, _ in marks][-MAX_VIEWERS:]
        if not viewers:
            return 0  # nobody looks: no Graph read, no publish
        views: dict[tuple[str, ...], View] = {}
        published = 0
        for user in viewers:
            shown = self.shown_to(user)
            if shown not in views:
                views[shown] = self.view(checked or {}, shown=shown)
            published += self._publish(user, views[shown])
        return published

    def view(
        self, checked: Mapping[str, CheckResult] | None = None, *, shown: Sequence[str]
    ) -> View:
        """The tab showing the tenants named in ``shown`` (in the settings' order)."""
        now = self.clock()
        tenants = [t for t in self.settings.tenants.values() if t.name in set(shown)]
        if not tenants:
            return nothing_shown_view(len(self.settings.tenants))
        if len(self.settings.tenants) > FLEET_HOME_AFTER:
            return self._fleet_view(checked or {}, now, tenants)
        homes = [self._tenant_home(tenant, (checked or {}).get(tenant.name)) for tenant in tenants]
        schedule = f"{self.settings.check_time:%H:%M} {self.settings.timezone}"
        return home_view(homes, now, required=self.settings.required_approvals, schedule=schedule)

    def _fleet_view(
        self, checked: Mapping[str, CheckResult], now: datetime, tenants: list[TenantSettings]
    ) -> View:
        """From what the checks saw (the store), never a Graph read per tenant per refresh."""
        rows: list[FleetRow] = []
        requests: list[ChangeRequest] = []
        for tenant in tenants:
            result = checked.get(tenant.name)
            certificate = (
                None  # not watched: a snapshot left from when it was is not shown
                if not tenant.watches(CredentialKind.PUSH)
                else result.certificate
                if result is not None
                else self.store.get_snapshot(tenant.name)
            )
            failing = failing_since(self.store.get_state(tenant.name, FAILING_KEY))
            tokens = result.tokens if result is not None else last_seen(self.store, tenant)
            error: str | None = None
            if tenant.watches(CredentialKind.PUSH) and (
                certificate is None
                or failing
                or (result is not None and result.certificate is None)
            ):
                certificate = None  # failed: the row says why, beside the worst token read
                error = (result.error if result else None) or (
                    f"{failing.error} (failing since {failing.since:%Y-%m-%d %H:%M} UTC)"
                    if failing
                    else "not checked yet"
                )
            items = self._items(tenant, certificate, error, tokens, now)
            rows.append(fleet_row_of(tenant.name, tenant.label, certificate, items))
            requests += self.store.list_requests(tenant.name, OPEN_STATUSES, HOME_REQUESTS)
        schedule = f"{self.settings.check_time:%H:%M} {self.settings.timezone}"
        return fleet_home_view(
            sort_by_urgency(rows), requests, now,
            required=self.settings.required_approvals, schedule=schedule,
        )  # fmt: skip

    def _items(
        self,
        tenant: TenantSettings,
        certificate: TenantCertificate | None,
        error: str | None,
        tokens: tuple[TokenRead, ...],
        now: datetime,
    ) -> list[WatchItem]:
        push = tenant.watches(CredentialKind.PUSH)
        return tenant_items(certificate, error, tokens, now, tenant.window_for, push=push)

    def _tenant_home(self, tenant: TenantSettings, result: CheckResult | None) -> TenantHome:
        now = self.clock()
        certificate, note, tokens = self._read(tenant, result, now)
        items = self._items(tenant, certificate, note, self._with_last_seen(tenant, tokens), now)
        return TenantHome(
            tenant=tenant,
            certificate=certificate,
            items=tuple(items),
            note=note,
            failing=failing_since(self.store.get_state(tenant.name, FAILING_KEY)),
            open_requests=self.store.list_requests(tenant.name, OPEN_STATUSES, HOME_REQUESTS),
            events=self.store.history(tenant.name, limit=HOME_EVENTS),
        )

    def _read(
        self, tenant: TenantSettings, result: CheckResult | None, now: datetime
    ) -> tuple[TenantCertificate | None, str | None, tuple[TokenRead, ...]]:
        """The check's reads, else one ``read_tenant`` (every watched kind at once); a
        certificate that could not be read falls back to the last one seen, with a note."""
        if result is not None:
            read = TenantRead(result.certificate, None, result.tokens)
            error = result.error or "unknown error"
        else:
            try:
                read = read_tenant(self.graph(tenant), tenant)
            except ApnsBotError as exc:  # no client: every kind fails the same way
                failed = tuple(TokenRead(k, error=read_error(exc)) for k in tenant.token_kinds)
                read = TenantRead(error=exc, tokens=failed)
            error = read.error.user_message if read.error is not None else "unknown error"
            timed = with_failures_timed(self.store, tenant, read.tokens, now)
            read = replace(read, tokens=timed)  # as the daily check times them
        if not tenant.watches(CredentialKind.PUSH):
            return None, None, read.tokens
        if read.certificate is not None:
            return read.certificate, None, read.tokens
        snapshot = self.store.get_snapshot(tenant.name)
        if snapshot is None:
            return None, f"Intune could not be read: {error}", read.tokens
        note = f"Intune could not be read ({error}); this is the last certificate seen."
        return snapshot, note, read.tokens

    def _with_last_seen(
        self, tenant: TenantSettings, reads: tuple[TokenRead, ...]
    ) -> tuple[TokenRead, ...]:
        """Each kind that could not be read, followed by its tokens as the last check saw
        them (as the certificate falls back to the last one seen)."""
        shown: list[TokenRead] = []
        for read in reads:
            key = SNAPSHOT_PREFIX + read.kind.value
            seen = (
                snapshot_tokens(read.kind, self.store.get_state(tenant.name, key))
                if read.error is not None
                else None
            )
            if read.error is None or not seen:
                shown.append(read)
                continue
            why = f"(the tokens below are as last seen) {read.error.message}"
            shown += [
                TokenRead(read.kind, error=ReadError(read.error.code, why)),
                TokenRead(read.kind, seen),
            ]
        return tuple(shown)

    def _publish(self, user_id: str, view: View) -> bool:
        try:
            self.client.views_publish(user_id=user_id, view=view.to_dict())
        except SlackApiError as exc:
            log.warning("views.publish for %s: %s", user_id, exc.response.get("error"))
            return False
        except (SlackClientError, OSError) as exc:
            log.warning("views.publish for %s failed: %s", user_id, type(exc).__name__)
            return False
        return True


class HomeRefreshingNotifier:
    """The renewal workflow's ``Notifier`` that also refreshes the Home tab after each change."""

    def __init__(self, inner: Notifier, refresh: Callable[[str], None]) -> None:
        self._inner = inner
        self._refresh = refresh

    def post_request(self, request: ChangeRequest) -> tuple[str, str] | None:
        try:
            return self._inner.post_request(request)
        finally:
            self._refresh(request.tenant)

    def update_request(self, request: ChangeRequest) -> None:
        self._inner.update_request(request)
        self._refresh(request.tenant)

    def post_renewed(self, request: ChangeRequest, observed: TenantCertificate) -> None:
        self._inner.post_renewed(request, observed)
        self._refresh(request.tenant)

    def post_token_renewed(self, request: ChangeRequest, expiry: datetime | None) -> None:
        self._inner.post_token_renewed(request, expiry)
        self._refresh(request.tenant)

    def post_failed(self, request: ChangeRequest) -> None:
        self._inner.post_failed(request)
        self._refresh(request.tenant)
