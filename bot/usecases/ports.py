"""What the use cases need from the outside world, as roles; adapters and Slack play them.

Store: small role protocols, one per kind of caller.
``RequestStore`` serves the renewal flow, ``AuditLog`` everything that records or shows history,
``NoticeStore`` the expiry watch (once-only reminders, last-known certificate, "check failing"
state). ``Store`` is all the roles plus ``close``. Every method takes aware datetimes and returns
the frozen dataclasses of ``bot.core.requests``. ``bot.adapters.store.SqlStore`` plays them, on
SQLite (``SqliteStore``) or PostgreSQL (``PostgresStore``), with the same guarantees across
processes.

Graph: ``GraphClient`` reads and writes one tenant's push certificate, lists its ADE and VPP
tokens, hands out Intune's ADE public key and uploads renewed tokens (``HttpGraphClient``).
Metrics: ``Metrics`` counts requests, approvals and uploads by outcome (``bot.usecases.metrics``).
Slack: ``Notifier`` (renewals), ``WatchNotifier`` (the expiry watch), ``SignInNotifier`` (delegated
sign-in) and ``Approvers`` (who may approve). Delegated sign-in: ``SignInTokens``, the sealed
device code flows and saved sign-ins (``bot.adapters.entra.delegated.DelegatedTokens``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, Protocol, TypeVar

from bot.config import TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import Change, Reminder
from bot.core.requests import (
    ApplyResult,
    ApprovalResult,
    AuditEvent,
    ChangeRequest,
    Failure,
    JSONValue,
    Rejection,
    Status,
)
from bot.core.signin import PendingSignIn, PollResult, SavedSignIn, SignInWait, StartedFlow
from bot.core.token_watch import TokenNotice
from bot.core.tokens import AppleToken, CredentialKind, ReadError
from bot.usecases.metrics import PUSH, ApprovalOutcome, RequestOutcome, UploadOutcome
from bot.usecases.watched import WatchedRead


class Metrics(Protocol):
    """Counts one outcome; ``kind`` is the credential the request renews
    (``bot.adapters.metrics.PrometheusMetrics``; ``bot.usecases.metrics.NO_METRICS``)."""

    def requested(self, outcome: RequestOutcome, kind: CredentialKind = PUSH) -> None: ...

    def decided(self, outcome: ApprovalOutcome, kind: CredentialKind = PUSH) -> None: ...

    def uploaded(self, outcome: UploadOutcome, kind: CredentialKind = PUSH) -> None: ...


class RequestStore(Protocol):
    def create_request(
        self,
        request: ChangeRequest,
        *,
        unless: Callable[[list[ChangeRequest]], ChangeRequest | None] | None = None,
    ) -> ChangeRequest | None:
        """Insert a new request (and any approvals it carries); audits ``requested``.

        ``unless`` sees the tenant's pending requests inside the insert's transaction: when it
        names one, nothing is inserted and that request is returned (a compare-and-set, across
        processes). Returns None when the request was stored."""

    def get_request(self, request_id: str) -> ChangeRequest | None: ...

    def list_requests(
        self, tenant: str, statuses: Iterable[Status] | None = None, limit: int = 50
    ) -> list[ChangeRequest]:
        """The tenant's requests, newest first, optionally only those in ``statuses``."""

    def requests_in(self, status: Status, tenant: str | None = None) -> list[ChangeRequest]:
        """Every request in ``status`` (all tenants unless one is named), oldest first."""

    def add_approval(self, request_id: str, user_id: str, at: datetime) -> ApprovalResult:
        """Record ``user_id``'s approval once; only while the request is pending.

        Idempotent: a repeat click returns ``recorded=False``. The returned approvals are the
        authoritative list, read in the same transaction.
        """

    def transition(
        self,
        request_id: str,
        from_status: Status | Iterable[Status],
        to_status: Status,
        now: datetime,
        *,
        actor: str = "system",
        event: str | None = None,
        detail: Mapping[str, JSONValue] | None = None,
        require_approvals: int = 0,
        rejection: Rejection | None = None,
        result: ApplyResult | None = None,
        failure: Failure | None = None,
    ) -> bool:
        """Compare-and-set the status; True only for the one caller that moved it.

        Moving to ``applying`` counts an attempt and clears the last failure. The audit event
        (``event``, default from ``transition_event``) is written in the same transaction.
        """

    def set_approval_message(self, request_id: str, channel: str, ts: str) -> bool: ...

    def expire_due(self, now: datetime, tenant: str | None = None) -> list[ChangeRequest]:
        """Move every pending request past its deadline to ``expired``; return those moved."""


class AuditLog(Protocol):
    def audit(
        self,
        tenant: str,
        event: str,
        actor: str,
        at: datetime,
        *,
        request_id: str | None = None,
        detail: Mapping[str, JSONValue] | None = None,
    ) -> int:
        """Append an event; refuses (``ValueError``) details that could hold a certificate or secret."""

    def history(
        self, tenant: str, *, limit: int = 20, request_id: str | None = None
    ) -> list[AuditEvent]:
        """The tenant's latest events, newest first."""


class NoticeStore(Protocol):
    def mark_notice_once(self, tenant: str, key: str, at: datetime) -> bool:
        """True only for the first caller ever to mark ``key`` (across restarts and replicas)."""

    def list_notices(self, tenant: str, prefix: str = "") -> Sequence[tuple[str, datetime]]:
        """Marked keys starting with ``prefix``, with when they were marked, oldest first."""

    def forget_notices(self, tenant: str, prefix: str, before: datetime) -> int:
        """Remove the marks under ``prefix`` made before ``before``; how many went."""

    def get_state(self, tenant: str, key: str) -> JSONValue:
        """The value stored under ``key``, or None."""

    def set_state(
        self, tenant: str, key: str, value: JSONValue, at: datetime, *, only_if_absent: bool = False
    ) -> bool:
        """Store ``value``; with ``only_if_absent`` only when nothing is stored (True if written)."""

    def delete_state(self, tenant: str, key: str, *, expected: JSONValue = None) -> bool:
        """Remove ``key`` (with ``expected``: only while that is what is stored); True only for
        the caller that removed it."""

    def replace_state(
        self, tenant: str, key: str, expected: JSONValue, value: JSONValue, at: datetime
    ) -> bool:
        """Store ``value`` only if ``expected`` (not None) is still what is stored: an atomic
        claim; True only for the one caller that made it."""

    def list_states(
        self, prefix: str, tenant: str | None = None
    ) -> Sequence[tuple[str, str, JSONValue, datetime]]:
        """State under keys starting with ``prefix``, of ``tenant`` or every tenant, as (tenant,
        key, value, when last written), by tenant and key."""

    def get_snapshot(self, tenant: str) -> TenantCertificate | None:
        """The last certificate the watch saw for this tenant."""

    def set_snapshot(self, tenant: str, cert: TenantCertificate, at: datetime) -> None: ...

    def delete_snapshot(self, tenant: str) -> bool:
        """Forget the last certificate seen; True only for the caller that removed it."""


class SignInStore(Protocol):
    """Delegated sign-in: saved sign-ins, pending device flows, requests waiting for a sign-in.

    Sealed columns are stored as given (the caller seals them with ``APNS_TOKEN_KEY``).
    """

    def save_signin(self, signin: SavedSignIn) -> None: ...

    def update_signin_cache(
        self, tenant: str, user_id: str, home_account_id: str, sealed_cache: str, at: datetime
    ) -> bool: ...

    def get_signin(self, tenant: str, user_id: str) -> SavedSignIn | None: ...

    def list_signins(self, tenant: str | None = None) -> list[SavedSignIn]: ...

    def delete_signin(
        self, tenant: str, user_id: str, home_account_id: str | None = None
    ) -> bool: ...

    def add_device_flow(self, flow: PendingSignIn) -> bool: ...

    def get_device_flow(self, tenant: str, user_id: str) -> PendingSignIn | None: ...

    def list_device_flows(
        self, tenant: str | None = None, *, due_by: datetime | None = None
    ) -> list[PendingSignIn]: ...

    def claim_device_flow(self, flow: PendingSignIn, lease_until: datetime) -> bool: ...

    def reschedule_device_flow(
        self, flow: PendingSignIn, sealed_flow: str, interval: int, next_poll_at: datetime
    ) -> bool: ...

    def finish_device_flow(self, tenant: str, user_id: str) -> tuple[str, ...] | None: ...

    def add_signin_wait(self, request_id: str, tenant: str, user_id: str, at: datetime) -> None: ...

    def remove_signin_wait(self, request_id: str) -> bool: ...

    def signin_wait(self, request_id: str) -> SignInWait | None: ...


class Store(RequestStore, AuditLog, NoticeStore, SignInStore, Protocol):
    def close(self) -> None: ...


# --- running work --------------------------------------------------------------------------------

P = ParamSpec("P")
T = TypeVar("T")


class Executor(Protocol):
    """The bot's own worker pool (``bot.runtime.executors.Background``): slow work goes there."""

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]: ...


# --- Graph ---------------------------------------------------------------------------------------


class GraphClient(Protocol):
    """One tenant's Intune push certificate, ADE and VPP tokens on Microsoft Graph; raises
    ``GraphError`` (a 403 names the permission, per kind: one kind failing hides no other)."""

    def get_certificate(self) -> TenantCertificate: ...

    def update_certificate(self, apple_id: str, certificate_pem: str) -> TenantCertificate: ...

    def download_csr(self) -> str: ...

    def list_ade_tokens(self) -> list[AppleToken]:
        """Every Automated Device Enrollment token (none: an empty list)."""

    def list_vpp_tokens(self) -> list[AppleToken]:
        """Every Apps and Books (VPP) token (none: an empty list)."""

    def get_ade_token(self, token_id: str) -> AppleToken:
        """One ADE token as Graph reports it now (the read-back after an upload)."""

    def get_vpp_token(self, token_id: str) -> AppleToken:
        """One Apps and Books token as Graph reports it now (the read-back after an upload)."""

    def ade_public_key(self, token_id: str) -> str:
        """Intune's public key for one ADE token (a PEM certificate) for Apple Business Manager."""

    def upload_ade_token(self, token_id: str, apple_id: str, content: str) -> None:
        """``uploadDepToken``, sent once: ``UploadOutcomeUnknown`` when it may or may not have
        landed (read the token back before anything else); a plain ``GraphError`` when refused."""

    def upload_vpp_token(self, token_id: str, content: str) -> None:
        """The token's PATCH, sent once; failures as for ``upload_ade_token``."""

    def sync_vpp_licenses(self, token_id: str) -> None:
        """Ask Intune to sync the token's licences with Apple (harmless to repeat)."""

    def read_watched(self, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
        """The certificate (``push``) and the token lists of ``kinds``, each its value or the
        ``ApnsBotError`` reading it raised; one Graph request where possible (doubles:
        ``bot.usecases.watched.one_by_one``)."""

    def close(self) -> None: ...


Graphs = Callable[[TenantSettings], GraphClient]
"""The tenant's client (app-only, or the delegated tenant's reader)."""
ActingGraphs = Callable[[TenantSettings, str], GraphClient]
"""The client that acts as one person (delegated uploads), else the tenant's client."""


# --- Slack ---------------------------------------------------------------------------------------


class Notifier(Protocol):
    """What the renewal workflow needs from Slack (``bot.slack.notifier.SlackNotifier``)."""

    def post_request(self, request: ChangeRequest) -> tuple[str, str] | None:
        """Post the approval message; (channel, ts) or None when Slack refused."""

    def update_request(self, request: ChangeRequest) -> None:
        """Re-render the approval message from the request's current state."""

    def post_renewed(self, request: ChangeRequest, observed: TenantCertificate) -> None: ...

    def post_token_renewed(self, request: ChangeRequest, expiry: datetime | None) -> None:
        """An ADE/VPP token request was applied; ``expiry`` None: Intune does not show the new
        expiry yet (it will after its next sync with Apple)."""

    def post_failed(self, request: ChangeRequest) -> None: ...


class ApplyGate(Protocol):
    """Delegated sign-in's say before an upload (``bot.usecases.signins.DelegatedSignIns``)."""

    def before_apply(
        self, request: ChangeRequest, tenant: TenantSettings, actor: str
    ) -> str | None:
        """None: upload now, as ``actor``. Else not yet (a sign-in started): the words for them."""

    def resume_as(self, request: ChangeRequest, tenant: TenantSettings) -> str | None:
        """Start-up, for an approved request: who uploads it now, or None to leave it be."""


class RequestApplier(Protocol):
    """Uploads an approved request (``Applying.apply``); the words for ``actor`` if it must wait."""

    def apply(self, request_id: str, *, actor: str, retry: bool = False) -> str | None: ...


@dataclass(frozen=True)
class ApproverCheck:
    allowed: bool
    note: str | None = None  # why a configured group could not be read, for the person clicking


class Approvers(Protocol):
    def check(self, tenant: TenantSettings, user_id: str) -> ApproverCheck: ...


class WatchNotifier(Protocol):
    """What the watch needs from Slack; each returns False when the post did not go out."""

    def post_reminder(
        self, tenant: TenantSettings, certificate: TenantCertificate, reminder: Reminder
    ) -> bool: ...

    def post_change(self, tenant: TenantSettings, change: Change, now: datetime) -> bool: ...

    def post_check_failed(self, tenant: TenantSettings, error: str, since: datetime) -> bool: ...

    def post_check_recovered(
        self, tenant: TenantSettings, since: datetime, now: datetime
    ) -> bool: ...

    def post_token_notice(self, tenant: TenantSettings, notice: TokenNotice) -> bool:
        """An ADE or VPP token's reminder, problem or change (``bot.core.token_watch``)."""

    def post_token_read_failed(
        self, tenant: TenantSettings, kind: CredentialKind, error: ReadError, since: datetime
    ) -> bool: ...


class SignInNotifier(Protocol):
    """What sign-in needs from Slack (``bot.slack.signin_notifier.SlackSignInNotifier``)."""

    def tell(self, tenant: TenantSettings, user_id: str, text: str) -> None:
        """Tell one person privately (ephemeral in the tenant's channel, else a direct message)."""

    def email_of(self, user_id: str) -> str | None:
        """The Slack profile e-mail of ``user_id`` (scope users:read.email), None if unknown."""


# --- delegated sign-in ---------------------------------------------------------------------------


class Sealer(Protocol):
    """Seals text at rest; ``open`` raises ``SealError`` when no configured key opens it."""

    def seal(self, text: str) -> str: ...

    def open(self, sealed: str) -> str: ...


class DeviceCodeClient(Protocol):
    """One tenant's device code flow, one step at a time (``PublicClient``)."""

    def start(self) -> StartedFlow: ...

    def poll(self, flow: dict[str, Any]) -> PollResult: ...


class SignInTokens(Protocol):
    """Saved sign-ins and the tenant's device code flows (``DelegatedTokens``)."""

    @property
    def sealer(self) -> Sealer: ...

    def client(self, tenant: TenantSettings) -> DeviceCodeClient: ...

    def usable(self, tenant: TenantSettings, user_id: str) -> bool:
        """True when ``user_id`` has a saved sign-in that still yields a token."""
