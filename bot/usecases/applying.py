"""Applying an approved request exactly once, and settling what a crash left behind.

``Applying`` is what ``bot.usecases.renewals.Renewals`` hands an approved request to: the
approved -> applying -> applied|failed moves, each a compare-and-set in the store, the PATCH with
its read-back, the checks just before it, the expiry of unapproved requests and the lease-based
reconcile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import Settings, TenantSettings
from bot.core.model import TenantCertificate
from bot.core.request_policy import (
    apply_blocker,
    is_in_place,
    readback_mismatches,
)
from bot.core.requests import (
    ApplyResult,
    ChangeRequest,
    Event,
    Failure,
    Status,
)
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError, GraphError, internal_error
from bot.usecases.metrics import NO_METRICS, ApprovalOutcome, UploadOutcome
from bot.usecases.ports import (
    ActingGraphs,
    ApplyGate,
    GraphClient,
    Graphs,
    Metrics,
    Notifier,
    Store,
)
from bot.usecases.token_applying import TokenApplying

log = logging.getLogger(__name__)

# How long a request may sit in a status before reconcile treats it as left behind by a crash.
# An upload is bounded by Graph's timeouts and retries (a few minutes at most).
APPLYING_LEASE = timedelta(minutes=10)
APPROVED_LEASE = timedelta(minutes=2)
UNREADABLE_CERTIFICATE = (
    "The approved certificate was stored encrypted with an APNS_TOKEN_KEY that is no longer "
    "configured, so it cannot be uploaded. Put the old key back (APNS_TOKEN_KEY=new,old) or "
    "submit the certificate again with /apns renew."
)


@dataclass(frozen=True)
class UploadRetry:
    """How often an upload whose outcome is unknown (timeout, 5xx) is tried, and the wait between
    tries (``backoff`` seconds times the attempt number)."""

    attempts: int = 3
    backoff: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def wait(self, attempt: int) -> None:
        self.sleep(self.backoff * attempt)


class Applying:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        graph: Graphs,
        notifier: Notifier,
        clock: Callable[[], datetime],
        *,
        retry: UploadRetry | None = None,
        graph_for: ActingGraphs | None = None,
        gate: ApplyGate | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        """Delegated sign-in: the upload is made as the person who applies it (``graph_for``),
        once ``gate`` says they are signed in. Without them, every call uses the tenant's client."""
        self.settings = settings
        self.store = store
        self.graph = graph
        self.notifier = notifier
        self.clock = clock
        self.retry = retry or UploadRetry()
        self.graph_for = graph_for
        self.gate = gate
        self.metrics = metrics
        self.tokens = TokenApplying(  # ADE and VPP token requests, after the same claim
            store,
            notifier,
            clock,
            self._finish_failed,
            self.refresh,
            attempts=self.retry.attempts,
            wait=self.retry.wait,
            metrics=metrics,
        )

    # --- apply -----------------------------------------------------------------------------
    def apply(self, request_id: str, *, actor: str, retry: bool = False) -> str | None:
        """Claim the request (approved|failed -> applying) and upload it; only one caller wins.

        Returns what to tell ``actor`` when the upload has to wait (delegated: sign in first)."""
        source = Status.FAILED if retry else Status.APPROVED
        if self.gate is not None:
            waiting = self.store.get_request(request_id)
            if waiting is None or waiting.status is not source:
                return None
            held = self.gate.before_apply(waiting, self.settings.tenants[waiting.tenant], actor)
            if held is not None:
                return held
        if not self.store.transition(
            request_id, source, Status.APPLYING, self.clock(), actor=actor
        ):
            return None
        request = self.store.get_request(request_id)
        if request is None:
            return None
        tenant = self.settings.tenants[request.tenant]
        self.notifier.update_request(request)
        try:
            client = self.graph_for(tenant, actor) if self.graph_for else self.graph(tenant)
            if request.token is not None:
                self.tokens.apply(request, client)
                return None
            current = client.get_certificate()
            if is_in_place(request, current):  # a retry after a lost answer, or a replica
                self._finish(request, current)
                return None
            blocker = apply_blocker(request, current, self.clock())
            if blocker is not None:
                self._finish_failed(request, blocker)
                return None
            if not request.certificate_pem:  # sealed with an APNS_TOKEN_KEY no longer configured
                raise ApnsBotError(UNREADABLE_CERTIFICATE)
            self._upload(request, client)
        except ApnsBotError as exc:
            failure = (
                Failure(exc.code or str(exc.status or "error"), exc.user_message, exc.request_id)
                if isinstance(exc, GraphError)
                else Failure("error", exc.user_message)
            )
            self._finish_failed(request, failure)
        except Exception:  # noqa: BLE001 - never leave a request in "applying" unexplained
            self._finish_failed(request, Failure("internal_error", internal_error("uploading")))
        return None

    def _upload(self, request: ChangeRequest, client: GraphClient) -> None:
        """PATCH, then read back. After a timeout or 5xx the PATCH may have landed anyway
        (Intune answers 500 after applying): read back before deciding, and upload again only
        when the read-back shows the certificate is not in place."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                patched = client.update_certificate(request.apple_id, request.certificate_pem)
            except GraphError as exc:
                if not exc.transient:
                    raise
                try:
                    observed = client.get_certificate()
                except GraphError:
                    log.warning("read-back after a failed upload failed (request %s)", request.id)
                    raise exc from None
                if is_in_place(request, observed):
                    self._finish(request, observed)
                    return
                if attempt == self.retry.attempts:
                    raise
                log.info("upload of %s not in place after %s; retrying", request.id, exc.status)
                self.retry.wait(attempt)
                continue
            try:  # read back: what Intune really holds now
                observed = client.get_certificate()
            except GraphError:
                log.warning(
                    "read-back after upload of %s failed; using the PATCH answer", request.id
                )
                observed = patched
            self._finish(request, observed)
            return

    def _finish(
        self, request: ChangeRequest, observed: TenantCertificate, *, reconciled: bool = False
    ) -> None:
        wrong = readback_mismatches(request, observed)
        now = self.clock()
        if wrong:
            failure = Failure(
                "readback_mismatch",
                "Intune accepted the upload but reports a different "
                + ", ".join(wrong)
                + " than the approved certificate. Check the Intune console before retrying.",
            )
            self._finish_failed(request, failure, reconciled=reconciled)
            return
        result = ApplyResult(observed.topic, observed.serial, observed.expires_at)
        if self.store.transition(
            request.id, (Status.APPLYING, Status.FAILED), Status.APPLIED, now, result=result
        ):
            self._reconciled(request, now, reconciled)
            # not watched: no snapshot, or a check watching it again (after its state was dropped,
            # bot.usecases.unwatched) would compare with this one instead of taking a fresh look
            tenant = self.settings.tenants.get(request.tenant)
            if tenant is None or tenant.watches(CredentialKind.PUSH):
                self.store.set_snapshot(request.tenant, observed, now)
            self.metrics.uploaded(UploadOutcome.APPLIED)
            done = self.refresh(request.id)
            self.notifier.post_renewed(done or request, observed)

    def _reconciled(self, request: ChangeRequest, now: datetime, reconciled: bool) -> None:
        if reconciled:
            self.store.audit(request.tenant, Event.RECONCILED, "system", now, request_id=request.id)

    def _finish_failed(
        self, request: ChangeRequest, failure: Failure, *, reconciled: bool = False
    ) -> None:
        now = self.clock()
        if self.store.transition(
            request.id,
            Status.APPLYING,
            Status.FAILED,
            now,
            failure=failure,
            detail={"code": failure.code, "request_id": failure.request_id},
        ):
            self._reconciled(request, now, reconciled)
            self.metrics.uploaded(UploadOutcome.FAILED)
            done = self.refresh(request.id)
            self.notifier.post_failed(done or request)

    def refresh(self, request_id: str) -> ChangeRequest | None:
        request = self.store.get_request(request_id)
        if request is not None:
            self.notifier.update_request(request)
        return request

    # --- housekeeping ------------------------------------------------------------------------
    def expire_due(self) -> list[ChangeRequest]:
        expired = self.store.expire_due(self.clock())
        for request in expired:
            self.metrics.decided(ApprovalOutcome.EXPIRED)
            self.notifier.update_request(request)
        return expired

    def reconcile(self) -> None:
        """Settle requests a crash left in ``approved`` or ``applying`` (at start-up, then
        periodically).

        Only requests older than their lease count as left behind: a younger one may be in the
        hands of another replica right now. ``applying`` is read back: in place -> applied;
        otherwise failed, so an approver can retry with a click. ``approved`` never reached Graph:
        it is applied now.
        """
        now = self.clock()
        for request in self.store.requests_in(Status.APPLYING):
            tenant = self.settings.tenants.get(request.tenant)
            if tenant is None or not _lease_over(request, now, APPLYING_LEASE):
                continue
            if request.token is not None:
                self._reconcile_token(request, tenant)
                continue
            try:
                observed = self.graph(tenant).get_certificate()
            except ApnsBotError as exc:
                log.warning("cannot reconcile %s yet: %s", request.id, exc.user_message)
                continue
            # audited by the replica whose transition wins, so once however many reconcile it
            if is_in_place(request, observed):
                self._finish(request, observed, reconciled=True)
            else:
                self._finish_failed(
                    request,
                    Failure(
                        "interrupted",
                        "The bot stopped while uploading; Intune does not hold this certificate. "
                        "Press Retry to upload it.",
                    ),
                    reconciled=True,
                )
        for request in self.store.requests_in(Status.APPROVED):
            if not _lease_over(request, now, APPROVED_LEASE):
                continue
            tenant = self.settings.tenants.get(request.tenant)
            if tenant is None:  # removed from the configuration: nobody can settle it here
                log.warning("request %s belongs to unknown tenant %s", request.id, request.tenant)
                continue
            actor = self.gate.resume_as(request, tenant) if self.gate is not None else "system"
            if actor is not None:
                self.apply(request.id, actor=actor)

    def _reconcile_token(self, request: ChangeRequest, tenant: TenantSettings) -> None:
        try:  # building the client may fail too (sign-in): one tenant must not stop the rest
            self.tokens.reconcile(request, self.graph(tenant))
        except ApnsBotError as exc:
            log.warning("cannot reconcile %s yet: %s", request.id, exc.user_message)
            return
        self.store.audit(
            request.tenant, Event.RECONCILED, "system", self.clock(), request_id=request.id
        )


def _lease_over(request: ChangeRequest, now: datetime, lease: timedelta) -> bool:
    changed = request.updated_at or request.created_at
    return now - changed >= lease
