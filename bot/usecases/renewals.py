"""Renewal use cases: submit a certificate and decide on it (applying it: ``bot.usecases.applying``).

Listeners call these from the bot's own executor, never on Slack's acknowledgement path. Each use
case reads state from the store, asks the pure policy in ``bot.core`` what a click may do, makes
the change stick with the store's compare-and-set, and tells Slack through the ``Notifier`` port.
It returns the sentence to show the person who acted (ephemeral), or None.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings, TenantSettings
from bot.core.certinput import MAX_CERTIFICATE_FILE_BYTES
from bot.core.chain import TrustAnchors
from bot.core.checks import Inspection, inspect_certificate
from bot.core.request_policy import (
    Outcome,
    approvals_remaining,
    decide_approval,
    decide_rejection,
    decide_retry,
    open_request_of_another,
)
from bot.core.requests import (
    ChangeRequest,
    Rejection,
    RequestWarning,
    Status,
    new_change_request,
    new_request_id,
)
from bot.errors import ApnsBotError
from bot.usecases.applying import Applying
from bot.usecases.metrics import NO_METRICS, ApprovalOutcome, RequestOutcome
from bot.usecases.ports import Approvers, Graphs, Metrics, Notifier, Store

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = MAX_CERTIFICATE_FILE_BYTES  # what the parser accepts, read no further


class NotDecidableError(ApnsBotError):
    """A click on a request that is gone, or whose tenant this bot no longer serves."""


@dataclass(frozen=True)
class Decidable:
    """A request a click may decide on, with its tenant's settings."""

    request: ChangeRequest
    tenant: TenantSettings


@dataclass(frozen=True)
class Submission:
    """What became of an uploaded certificate."""

    inspection: Inspection
    request: ChangeRequest | None = None  # None when a blocking problem stopped it
    posted: bool = False
    # someone else's request that is still waiting: this one was not sent (nothing was stored)
    waiting_for: ChangeRequest | None = None


@dataclass(frozen=True)
class Proposal:
    """What became of a checked request: stored and posted, not posted, or waiting for another."""

    request: ChangeRequest | None
    posted: bool = False
    waiting_for: ChangeRequest | None = None


class Renewals:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        graph: Graphs,
        notifier: Notifier,
        approvers: Approvers,
        trust: Callable[[], TrustAnchors | None],
        clock: Callable[[], datetime],
        applying: Applying,
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.graph = graph
        self.notifier = notifier
        self.approvers = approvers
        self.trust = trust
        self.clock = clock
        self.applying = applying  # approved requests go on to it
        self.metrics = metrics

    # --- submit ----------------------------------------------------------------------------
    def submit(
        self,
        tenant: TenantSettings,
        requester: str,
        apple_id: str,
        content: bytes,
        reason: str | None = None,
    ) -> Submission:
        """Check ``content`` against the tenant's current certificate; if it passes, ask approvers."""
        try:
            current = self.graph(tenant).get_certificate()  # GraphError propagates to the caller
        except ApnsBotError:
            self.metrics.requested(RequestOutcome.ERROR)
            raise
        now = self.clock()
        inspection = inspect_certificate(
            content, now=now, apple_id=apple_id, current=current, trust=self.trust()
        )
        certificate = inspection.certificate
        if inspection.blocking or certificate is None or certificate.topic is None:
            self.metrics.requested(RequestOutcome.BLOCKED)
            return Submission(inspection)
        request = new_change_request(
            id=new_request_id(now, secrets.token_bytes(10)),
            tenant=tenant.name,
            requester=requester,
            apple_id=apple_id,
            certificate_pem=certificate.pem,
            sha256=certificate.sha256,
            topic=certificate.topic,
            serial=certificate.serial,
            not_after=certificate.not_after,
            now=now,
            ttl=timedelta(hours=self.settings.approval_ttl_hours),
            warnings=tuple(
                RequestWarning(p.code, p.severity, p.message) for p in inspection.warnings
            ),
            reason=reason,
            current=current if current.exists else None,
        )
        proposal = self.propose(request)
        return Submission(
            inspection, proposal.request, proposal.posted, waiting_for=proposal.waiting_for
        )

    def propose(self, request: ChangeRequest) -> Proposal:
        """Store ``request`` (unless someone else's for the same target waits) and ask the
        approvers; the same for the push certificate and for ADE/VPP tokens."""
        requester, now = request.requester, request.created_at
        # stored only if nobody else's request is pending, decided in the insert's transaction
        other = self.store.create_request(
            request,
            unless=lambda pending: open_request_of_another(pending, requester, now, request.target),
        )
        if other is not None:
            self.metrics.requested(RequestOutcome.WAITING)
            return Proposal(None, waiting_for=other)
        posted = self.notifier.post_request(request)
        if posted is None:
            # nobody could approve a request they cannot see: close it rather than leave it pending
            self.store.transition(
                request.id,
                Status.PENDING,
                Status.CANCELLED,
                self.clock(),
                detail={"why": "approval message could not be posted"},
            )
            self.metrics.requested(RequestOutcome.UNPOSTED)
            return Proposal(request, posted=False)
        self.store.set_approval_message(request.id, *posted)
        self._supersede(request)
        self.metrics.requested(RequestOutcome.SENT)
        return Proposal(request, posted=True)

    def _pending(self, tenant: TenantSettings) -> list[ChangeRequest]:
        return self.store.list_requests(tenant.name, statuses=[Status.PENDING])

    def _supersede(self, newest: ChangeRequest) -> None:
        """One open request per tenant (approving two could upload an older certificate last),
        and a request belongs to its requester: a new one replaces only their own."""
        now = self.clock()
        for older in self.store.list_requests(newest.tenant, statuses=[Status.PENDING]):
            if (
                older.id == newest.id
                or older.requester != newest.requester
                or older.target != newest.target
            ):
                continue
            why = f"superseded by a newer request ({newest.id})"
            if self.store.transition(
                older.id,
                Status.PENDING,
                Status.CANCELLED,
                now,
                actor=newest.requester,
                rejection=Rejection(by=newest.requester, at=now, reason=why),
                detail={"why": why},
            ):
                self.applying.refresh(older.id)

    # --- decide ----------------------------------------------------------------------------
    def _load(self, request_id: str) -> Decidable:
        request = self.store.get_request(request_id)
        if request is None:
            raise NotDecidableError("This request does not exist (any more).")
        tenant = self.settings.tenants.get(request.tenant)
        if tenant is None:
            raise NotDecidableError(
                f"This request belongs to tenant {request.tenant!r}, which is not configured."
            )
        return Decidable(request, tenant)

    def approve(self, request_id: str, user_id: str) -> str | None:
        loaded = self._load(request_id)
        request, tenant = loaded.request, loaded.tenant
        now = self.clock()
        check = self.approvers.check(tenant, user_id)
        required = self.settings.required_approvals
        decision = decide_approval(
            request, user_id, is_approver=check.allowed, required=required, now=now
        )
        if not decision.allowed:
            self.metrics.decided(ApprovalOutcome.REFUSED)
            if decision.outcome is Outcome.REFUSED_EXPIRED:
                self.applying.expire_due()
            return " ".join(filter(None, [decision.reason, check.note]))
        result = self.store.add_approval(request_id, user_id, now)
        if not result.recorded:
            self.metrics.decided(ApprovalOutcome.REFUSED)
            return "This request is no longer waiting for approval."
        fresh = self.store.get_request(request_id) or request
        remaining = approvals_remaining(fresh, required)
        if remaining > 0:
            self.metrics.decided(ApprovalOutcome.RECORDED)
            self.notifier.update_request(fresh)
            return f"Your approval is recorded; {remaining} more needed."
        moved = self.store.transition(
            request_id,
            Status.PENDING,
            Status.APPROVED,
            now,
            actor=user_id,
            require_approvals=required,
        )
        # not moved: another approver's click, recorded at the same moment, moved it
        self.metrics.decided(ApprovalOutcome.APPROVED if moved else ApprovalOutcome.RECORDED)
        if moved:
            return self.applying.apply(request_id, actor=user_id)
        return None

    def reject(self, request_id: str, user_id: str, reason: str | None) -> str | None:
        loaded = self._load(request_id)
        request, tenant = loaded.request, loaded.tenant
        now = self.clock()
        check = self.approvers.check(tenant, user_id)
        decision = decide_rejection(request, user_id, is_approver=check.allowed, now=now)
        if not decision.allowed:
            self.metrics.decided(ApprovalOutcome.REFUSED)
            return decision.reason
        to = Status.REJECTED if decision.outcome is Outcome.REJECTED else Status.CANCELLED
        moved = self.store.transition(
            request_id,
            Status.PENDING,
            to,
            now,
            actor=user_id,
            rejection=Rejection(by=user_id, at=now, reason=reason),
            detail={"reason": reason} if reason else None,
        )
        if not moved:
            self.metrics.decided(ApprovalOutcome.REFUSED)
            return "This request was decided by someone else a moment ago."
        rejected = to is Status.REJECTED
        self.metrics.decided(ApprovalOutcome.REJECTED if rejected else ApprovalOutcome.CANCELLED)
        self.applying.refresh(request_id)
        return None

    def retry(self, request_id: str, user_id: str) -> str | None:
        loaded = self._load(request_id)
        request, tenant = loaded.request, loaded.tenant
        decision = decide_retry(request, is_approver=self.approvers.check(tenant, user_id).allowed)
        if not decision.allowed:
            return decision.reason
        return self.applying.apply(request_id, actor=user_id, retry=True)
