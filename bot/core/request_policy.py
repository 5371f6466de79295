"""Who may do what to a change request, decided as values with a reason (never exceptions).

Each ``decide_*`` function looks at one snapshot of a request and answers for one click. The
snapshot may be stale by the time the store is written: the store's compare-and-set is what makes
an outcome stick. In particular, after ``RequestStore.add_approval`` the workflow recomputes
``approvals_remaining`` from the approvals the store returned (two approvers clicking at once each
see "one more needed" here, and both then see the full count from the store).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest, Failure, Status


class Outcome(StrEnum):
    RECORDED = "recorded"  # approval counted, more are needed
    READY_TO_APPLY = "ready_to_apply"  # final approval (or a retry): claim and apply
    ALREADY_APPROVED_BY_YOU = "already_approved_by_you"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the requester withdrew, or an approver gave up on a failed request
    REFUSED_SELF_APPROVAL = "refused_self_approval"
    REFUSED_NOT_APPROVER = "refused_not_approver"
    REFUSED_NOT_PENDING = "refused_not_pending"
    REFUSED_NOT_FAILED = "refused_not_failed"
    REFUSED_EXPIRED = "refused_expired"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str  # one sentence, safe to show the person who clicked
    approvals_needed: int = 0  # still needed after this click (approval decisions only)

    @property
    def allowed(self) -> bool:
        """The click changes something: record it, or move the request on."""
        return self.outcome in _CHANGES

    @property
    def refused(self) -> bool:
        return self.outcome.value.startswith("refused_")


_CHANGES = frozenset(
    {Outcome.RECORDED, Outcome.READY_TO_APPLY, Outcome.REJECTED, Outcome.CANCELLED}
)

_STATE_WORDS = {
    Status.PENDING: "is still waiting for approval",
    Status.APPROVED: "has already been approved and is about to be applied",
    Status.APPLYING: "is being applied right now",
    Status.APPLIED: "has already been applied",
    Status.FAILED: "was approved, but applying it failed",
    Status.REJECTED: "has been rejected",
    Status.EXPIRED: "has expired",
    Status.CANCELLED: "has been cancelled",
}


def describe_status(status: Status) -> str:
    """E.g. "has already been applied", to follow "This request"."""
    return _STATE_WORDS[status]


def is_expired(request: ChangeRequest, now: datetime) -> bool:
    """Expired, or still pending past its deadline (the sweep may not have run yet)."""
    if request.status is Status.EXPIRED:
        return True
    return request.status is Status.PENDING and now >= request.expires_at


def time_left(request: ChangeRequest, now: datetime) -> timedelta:
    """Time until a pending request expires (zero once it has)."""
    return max(request.expires_at - now, timedelta(0))


def approvals_remaining(request: ChangeRequest, required: int) -> int:
    """Distinct approvals still needed; the requester's own never counts."""
    counted = {a.user_id for a in request.approvals if a.user_id != request.requester}
    return max(required - len(counted), 0)


def _closed(request: ChangeRequest, now: datetime) -> Decision | None:
    if is_expired(request, now):
        return Decision(Outcome.REFUSED_EXPIRED, "This request has expired; upload it again.")
    if request.status is not Status.PENDING:
        return Decision(
            Outcome.REFUSED_NOT_PENDING, f"This request {describe_status(request.status)}."
        )
    return None


def decide_approval(
    request: ChangeRequest, user_id: str, *, is_approver: bool, required: int, now: datetime
) -> Decision:
    closed = _closed(request, now)
    if closed is not None:
        return closed
    if user_id == request.requester:
        return Decision(
            Outcome.REFUSED_SELF_APPROVAL,
            "You cannot approve your own request; another approver has to.",
            approvals_remaining(request, required),
        )
    if not is_approver:
        return Decision(
            Outcome.REFUSED_NOT_APPROVER,
            "Only the configured approvers can approve certificate changes.",
            approvals_remaining(request, required),
        )
    remaining = approvals_remaining(request, required)
    if user_id in request.approvers:
        return Decision(
            Outcome.ALREADY_APPROVED_BY_YOU, "You have already approved this request.", remaining
        )
    remaining = max(remaining - 1, 0)
    if remaining == 0:
        return Decision(Outcome.READY_TO_APPLY, "Approved; applying the certificate now.")
    more = "approval" if remaining == 1 else "approvals"
    return Decision(
        Outcome.RECORDED, f"Approval recorded; {remaining} more {more} needed.", remaining
    )


def decide_rejection(
    request: ChangeRequest, user_id: str, *, is_approver: bool, now: datetime
) -> Decision:
    """Approvers reject; the requester pressing Reject withdraws (cancels) their own request."""
    closed = _closed(request, now)
    if closed is not None:
        return closed
    if is_approver:
        return Decision(Outcome.REJECTED, "Request rejected.")
    if user_id == request.requester:
        return Decision(Outcome.CANCELLED, "You withdrew your request.")
    return Decision(
        Outcome.REFUSED_NOT_APPROVER,
        "Only the configured approvers can reject certificate changes.",
    )


def decide_retry(request: ChangeRequest, *, is_approver: bool) -> Decision:
    """Approvers may re-apply a failed request: the same approved bytes, so no new approval.

    The requester may retry too when they are an approver: the decision was made by others.
    """
    if request.status is not Status.FAILED:
        return Decision(
            Outcome.REFUSED_NOT_FAILED, f"This request {describe_status(request.status)}."
        )
    if not is_approver:
        return Decision(Outcome.REFUSED_NOT_APPROVER, "Only the configured approvers can retry.")
    return Decision(Outcome.READY_TO_APPLY, "Retrying; applying the certificate now.")


def decide_cancellation(request: ChangeRequest, user_id: str, *, is_approver: bool) -> Decision:
    """A pending request may be withdrawn by its requester or an approver; a failed one abandoned."""
    if request.status not in (Status.PENDING, Status.FAILED):
        return Decision(
            Outcome.REFUSED_NOT_PENDING, f"This request {describe_status(request.status)}."
        )
    if not is_approver and user_id != request.requester:
        return Decision(
            Outcome.REFUSED_NOT_APPROVER,
            "Only the requester or an approver can cancel this request.",
        )
    return Decision(Outcome.CANCELLED, "Request cancelled.")


def open_request_of_another(
    pending: Iterable[ChangeRequest],
    requester: str,
    now: datetime,
    target: str = "push",
) -> ChangeRequest | None:
    """The pending request of someone other than ``requester`` that a new request of theirs must
    wait for (the oldest, if several), or None. Only requests renewing the same ``target``
    (``ChangeRequest.target``: the push certificate, or one ADE/VPP token) count.

    Pending requests belong to their requester: a new request replaces only its own requester's
    pending one, never someone else's. The store applies this rule in the same transaction as
    the insert (``create_request(..., unless=...)``), so of two people submitting at once the one
    stored second yields.
    """
    waiting = [
        r
        for r in pending
        if r.status is Status.PENDING
        and r.requester != requester
        and r.target == target
        and not is_expired(r, now)
    ]
    return min(waiting, key=lambda r: (r.created_at, r.id), default=None)


# --- comparing Graph's view with the request ---------------------------------------------------------


def normalise_serial(serial: str | None) -> str:
    """Compare serials whatever their spelling: ``0b:70:02`` == ``B7002`` == ``000B7002``."""
    if not serial:
        return ""
    digits = "".join(c for c in serial if c not in ": -").upper()
    return digits.lstrip("0") or "0"


def _same_instant(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) < 1  # Graph may drop fractions of a second


def readback_mismatches(request: ChangeRequest, observed: TenantCertificate) -> tuple[str, ...]:
    """Which of topic, serial and expiry Graph reports differently from the request's certificate.

    Empty means the requested certificate is the one in place (after a PATCH, or when reconciling
    a request interrupted by a crash or a timeout).
    """
    wrong: list[str] = []
    if observed.topic != request.topic:
        wrong.append("topic")
    if normalise_serial(observed.serial) != normalise_serial(request.serial):
        wrong.append("serial")
    if not _same_instant(observed.expires_at, request.not_after):
        wrong.append("expiry")
    return tuple(wrong)


def is_in_place(request: ChangeRequest, observed: TenantCertificate) -> bool:
    return not readback_mismatches(request, observed)


def snapshot_is_stale(request: ChangeRequest, observed: TenantCertificate) -> bool:
    """The tenant's certificate changed since the request was made (e.g. renewed in the console).

    The request's checks were run against the old one, so applying it needs a fresh check.
    """
    before = request.current
    if before is None or not before.exists:
        return observed.exists
    return (
        before.topic != observed.topic
        or normalise_serial(before.serial) != normalise_serial(observed.serial)
        or not _same_instant(before.expires_at, observed.expires_at)
    )


def apply_blocker(
    request: ChangeRequest, observed: TenantCertificate, now: datetime
) -> Failure | None:
    """Why the approved certificate must not be uploaded now, judged just before the PATCH.

    The checks ran when the request was made; by the time it is approved (or retried) the tenant's
    certificate may have been replaced in the Intune console, or the new one may have lapsed.
    """
    if now >= request.not_after:
        return Failure(
            "expired",
            f"The approved certificate expired on {request.not_after:%Y-%m-%d}; renew it at Apple "
            "again and submit the new one with /apns renew.",
        )
    if snapshot_is_stale(request, observed):
        return Failure(
            "tenant_changed",
            "The tenant's certificate changed since this request was made (now serial "
            f"{observed.serial or 'none'}, expiring "
            f"{f'{observed.expires_at:%Y-%m-%d}' if observed.expires_at else 'never'}). Nothing "
            "was uploaded; submit the certificate again with /apns renew so it is checked "
            "against the current one.",
        )
    return None
