"""Change requests: the facts of one proposed certificate renewal, and the state it moves through.

Pure values only: no I/O, no clock. Time is always a parameter. The store (``bot.adapters.store``)
persists these dataclasses and performs every status change as a compare-and-set; the policy
functions in ``bot.core.request_policy`` decide what a click is allowed to do.

Life of a request::

    pending ──► approved ──► applying ──► applied
       │                        │  ▲
       ├──► rejected            ▼  │ (retry)
       ├──► expired           failed ──► cancelled
       └──► cancelled           └──────► applied   (read-back found the certificate in place)

    approved ──► failed   (delegated sign-in: the approver's sign-in failed; retry signs in again)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.core.model import TenantCertificate
from bot.core.tokens import CredentialKind

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Nothing can happen to the request any more."""
        return not TRANSITIONS[self]


TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED}),
    # approved is the short step between the final approval and claiming the PATCH; a crash in
    # between leaves it for start-up reconciliation, which claims it like anyone else. With
    # delegated sign-in it lasts until the approver has signed in, and goes to failed (retry
    # possible) when that sign-in fails: nothing was uploaded, but the approval stands.
    Status.APPROVED: frozenset({Status.APPLYING, Status.FAILED}),
    Status.APPLYING: frozenset({Status.APPLIED, Status.FAILED}),
    Status.FAILED: frozenset({Status.APPLYING, Status.APPLIED, Status.CANCELLED}),
    Status.APPLIED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def can_transition(from_status: Status, to_status: Status) -> bool:
    return to_status in TRANSITIONS[from_status]


class Event(StrEnum):
    """Audit event names used by the renewal and expiry-watch flows (the store accepts others)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    APPROVAL_COMPLETE = "approval_complete"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    RETRIED = "retried"
    RECONCILED = "reconciled"
    REMINDER_POSTED = "reminder_posted"
    EXTERNAL_CHANGE = "external_change"
    CHECK_FAILED = "check_failed"
    CHECK_RECOVERED = "check_recovered"


def transition_event(from_status: Status, to_status: Status) -> Event:
    """The audit event a status change records unless the caller names another."""
    if from_status is Status.FAILED and to_status is Status.APPLYING:
        return Event.RETRIED
    if to_status is Status.APPROVED:
        return Event.APPROVAL_COMPLETE
    return Event(to_status.value)


@dataclass(frozen=True)
class RequestWarning:
    """A pre-flight finding the approvers should see (a plain copy of a check's problem)."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class Approval:
    user_id: str
    at: datetime


@dataclass(frozen=True)
class Rejection:
    """Who closed the request without applying it (rejected or cancelled), when and why."""

    by: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    """What Graph reported after the PATCH, read back."""

    topic: str | None
    serial: str | None
    expiry: datetime | None


@dataclass(frozen=True)
class Failure:
    """Why the last attempt failed: Graph's error code and message and its request-id."""

    code: str
    message: str
    request_id: str | None = None


@dataclass(frozen=True)
class TokenChange:
    """What a request renews when it is an ADE or Apps and Books (VPP) token, not the push
    certificate: the token (as Graph reported it when the request was made) and the new file's
    facts. The file's content itself travels in ``ChangeRequest.certificate_pem`` (the request's
    sealed payload column), never here.

    ``new_expiry``: the VPP file's ``expDate`` (an ADE file is encrypted: unknown until Intune
    opened it). ``current_modified``: Graph's ``lastModifiedDateTime`` when the request was made,
    so a read-back can tell whether an upload whose answer was lost has landed.
    """

    kind: CredentialKind  # ADE or VPP
    token_id: str
    token_name: str | None = None
    organization: str | None = None
    current_apple_id: str | None = None
    current_expiry: datetime | None = None
    current_modified: datetime | None = None
    new_expiry: datetime | None = None

    @property
    def label(self) -> str:
        return self.token_name or self.token_id


@dataclass(frozen=True)
class ChangeRequest:
    id: str
    tenant: str
    requester: str
    apple_id: str
    certificate_pem: str = field(repr=False)  # never in a log line
    sha256: str
    topic: str
    serial: str
    not_after: datetime
    created_at: datetime
    expires_at: datetime
    warnings: tuple[RequestWarning, ...] = ()
    reason: str | None = None
    current: TenantCertificate | None = None
    status: Status = Status.PENDING
    updated_at: datetime | None = None
    approvals: tuple[Approval, ...] = ()
    rejection: Rejection | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    result: ApplyResult | None = None
    failure: Failure | None = None
    attempts: int = 0
    token: TokenChange | None = None  # None: the push certificate

    @property
    def kind(self) -> CredentialKind:
        return self.token.kind if self.token is not None else CredentialKind.PUSH

    @property
    def target(self) -> str:
        """What the request renews, as a key: ``push``, or ``ade:<id>`` / ``vpp:<id>``."""
        return "push" if self.token is None else f"{self.token.kind.value}:{self.token.token_id}"

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.user_id for a in self.approvals)

    @property
    def is_first_upload(self) -> bool:
        if self.token is not None:
            return False
        return self.current is None or not self.current.exists

    @property
    def topic_changed(self) -> bool:
        """The new certificate's topic differs from the tenant's current one (the costly mistake)."""
        if self.current is None or not self.current.exists:
            return False
        return self.current.topic != self.topic

    @property
    def apple_id_changed(self) -> bool:
        current = self.current.apple_id if self.current is not None else None
        return bool(current) and (current or "").casefold() != self.apple_id.casefold()


@dataclass(frozen=True)
class ApprovalResult:
    """What ``add_approval`` did: ``recorded`` is False for a repeat click or a closed request."""

    recorded: bool
    status: Status
    approvals: tuple[Approval, ...]


@dataclass(frozen=True)
class AuditEvent:
    id: int
    tenant: str
    at: datetime
    actor: str
    event: str
    request_id: str | None = None
    detail: Mapping[str, JSONValue] = field(default_factory=dict, hash=False)


def new_change_request(
    *,
    id: str,
    tenant: str,
    requester: str,
    apple_id: str,
    certificate_pem: str,
    sha256: str,
    topic: str,
    serial: str,
    not_after: datetime,
    now: datetime,
    ttl: timedelta,
    warnings: tuple[RequestWarning, ...] = (),
    reason: str | None = None,
    current: TenantCertificate | None = None,
    token: TokenChange | None = None,
) -> ChangeRequest:
    """A fresh pending request that expires ``ttl`` after ``now``."""
    reason = reason.strip() if reason else None
    return ChangeRequest(
        id=id,
        tenant=tenant,
        requester=requester,
        apple_id=apple_id.strip(),
        certificate_pem=certificate_pem,
        sha256=sha256,
        topic=topic,
        serial=serial,
        not_after=not_after,
        created_at=now,
        expires_at=now + ttl,
        updated_at=now,
        warnings=warnings,
        reason=reason or None,
        current=current,
        token=token,
    )


# --- request ids: "req_" + a ULID (48-bit milliseconds, 80 random bits, Crockford base32) ----------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID = re.compile(r"^req_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
ID_ENTROPY_BYTES = 10


def new_request_id(now: datetime, entropy: bytes) -> str:
    """A sortable, unguessable id; pass ``secrets.token_bytes(ID_ENTROPY_BYTES)`` as ``entropy``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(entropy) != ID_ENTROPY_BYTES:
        raise ValueError(f"entropy must be {ID_ENTROPY_BYTES} bytes")
    millis = int(now.astimezone(UTC).timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise ValueError("now is outside the range a request id can encode")
    value = (millis << 80) | int.from_bytes(entropy, "big")
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return "req_" + "".join(chars)


def is_request_id(value: str) -> bool:
    """True for strings shaped like ``new_request_id`` output (check button values with this)."""
    return bool(_ID.fullmatch(value))  # not match(): "$" would let a trailing newline through
