"""Recording fakes for the use cases' ports (``bot.usecases.ports``), and a one-tenant setting.

Each fake keeps what it was asked, so a test asserts on the calls the use case made; the store is
the real ``SqliteStore`` in a temporary folder (the use cases' compare-and-set lives there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from bot.config import Settings, TenantSettings
from bot.core.model import TenantCertificate
from bot.core.reminders import Change, Reminder
from bot.core.requests import ChangeRequest
from bot.core.signin import PollOutcome, PollResult, StartedFlow
from bot.core.token_watch import TokenNotice
from bot.core.tokens import AppleToken, CredentialKind, ReadError
from bot.errors import GraphError, SealError
from bot.usecases.metrics import ApprovalOutcome, RequestOutcome, UploadOutcome
from bot.usecases.ports import ApproverCheck, DeviceCodeClient, Sealer
from bot.usecases.watched import WatchedRead, one_by_one
from tests.certgen import GeneratedCert

APPLE_ID = "mdm@example.com"
CHANNEL = "C0USECASE"
LEAD_1, LEAD_2, REQUESTER = "ULEAD1", "ULEAD2", "UREQUESTER"
TENANT = TenantSettings(
    name="default",
    tenant_id="11111111-1111-1111-1111-111111111111",
    client_id="22222222-2222-2222-2222-222222222222",
    channel=CHANNEL,
    approvers=(LEAD_1, LEAD_2),
)


def settings(tenant: TenantSettings = TENANT, **changes: Any) -> Settings:
    return Settings(slack=None, tenants={tenant.name: tenant}, **changes)


def as_graph_reports(generated: GeneratedCert, apple_id: str = APPLE_ID) -> TenantCertificate:
    """The certificate as Graph reports it once uploaded."""
    return certificate_of(generated.pem.decode(), apple_id)


def certificate_of(pem: str, apple_id: str) -> TenantCertificate:
    cert = x509.load_pem_x509_certificate(pem.encode())
    uid = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return TenantCertificate(
        apple_id=apple_id,
        topic=str(uid[0].value) if uid else None,
        serial=f"{cert.serial_number:016X}",
        expires_at=cert.not_valid_after_utc,
    )


class FakeGraph:
    """One tenant's certificate; ``failures`` are raised by the next PATCHes, in order."""

    def __init__(self, current: TenantCertificate) -> None:
        self.current = current
        self.uploads: list[tuple[str, str]] = []  # (apple id, PEM) of every PATCH
        self.failures: list[GraphError] = []
        self.land_failed_uploads = False  # a failing PATCH still lands (Intune's 500 after apply)
        self.read_failure: GraphError | None = None  # every read raises it while set
        self.reads = 0
        self.ade_tokens: list[AppleToken] = []  # what list_ade_tokens returns
        self.vpp_tokens: list[AppleToken] = []
        self.ade_key_pem = "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n"
        self.token_uploads: list[tuple[str, str, str]] = []  # (kind or "sync", token id, content)

    def __call__(self, tenant: TenantSettings) -> FakeGraph:
        return self

    def get_certificate(self) -> TenantCertificate:
        self.reads += 1
        if self.read_failure is not None:
            raise self.read_failure
        return self.current

    def update_certificate(self, apple_id: str, certificate_pem: str) -> TenantCertificate:
        self.uploads.append((apple_id, certificate_pem))
        if self.failures:
            if self.land_failed_uploads:
                self.current = certificate_of(certificate_pem, apple_id)
            raise self.failures.pop(0)
        self.current = certificate_of(certificate_pem, apple_id)
        return self.current

    def download_csr(self) -> str:
        return "CSR"

    def list_ade_tokens(self) -> list[AppleToken]:
        return list(self.ade_tokens)

    def list_vpp_tokens(self) -> list[AppleToken]:
        return list(self.vpp_tokens)

    def read_watched(self, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
        return one_by_one(self, push, kinds)

    def get_ade_token(self, token_id: str) -> AppleToken:
        return self._token(self.ade_tokens, token_id)

    def get_vpp_token(self, token_id: str) -> AppleToken:
        return self._token(self.vpp_tokens, token_id)

    def ade_public_key(self, token_id: str) -> str:
        self._token(self.ade_tokens, token_id)
        return self.ade_key_pem

    def upload_ade_token(self, token_id: str, apple_id: str, content: str) -> None:
        self._token(self.ade_tokens, token_id)
        self.token_uploads.append(("ade", token_id, content))

    def upload_vpp_token(self, token_id: str, content: str) -> None:
        self._token(self.vpp_tokens, token_id)
        self.token_uploads.append(("vpp", token_id, content))

    def sync_vpp_licenses(self, token_id: str) -> None:
        self._token(self.vpp_tokens, token_id)
        self.token_uploads.append(("sync", token_id, ""))

    @staticmethod
    def _token(tokens: list[AppleToken], token_id: str) -> AppleToken:
        for token in tokens:
            if token.id == token_id:
                return token
        raise GraphError(f"No token {token_id}.", status=404, code="ResourceNotFound")

    def close(self) -> None:
        return None


@dataclass
class RecordingNotifier:
    """``Notifier``: what the renewal workflow told Slack."""

    refuse_posts: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)  # (what, request id)
    token_expiries: list[datetime | None] = field(default_factory=list)  # post_token_renewed's

    def post_request(self, request: ChangeRequest) -> tuple[str, str] | None:
        self.calls.append(("post_request", request.id))
        return None if self.refuse_posts else (CHANNEL, f"ts-{len(self.calls)}")

    def update_request(self, request: ChangeRequest) -> None:
        self.calls.append(("update_request", request.id))

    def post_renewed(self, request: ChangeRequest, observed: TenantCertificate) -> None:
        self.calls.append(("post_renewed", request.id))

    def post_token_renewed(self, request: ChangeRequest, expiry: datetime | None) -> None:
        self.calls.append(("post_token_renewed", request.id))
        self.token_expiries.append(expiry)

    def post_failed(self, request: ChangeRequest) -> None:
        self.calls.append(("post_failed", request.id))

    def said(self, what: str) -> list[str]:
        return [request_id for kind, request_id in self.calls if kind == what]


@dataclass
class RecordingMetrics:
    """``Metrics``: every outcome counted, as ``(counter, outcome)``, in order (push only)."""

    counted: list[tuple[str, str]] = field(default_factory=list)

    def requested(
        self, outcome: RequestOutcome, kind: CredentialKind = CredentialKind.PUSH
    ) -> None:
        self.counted.append(("requests", f"{kind}:{outcome}"))

    def decided(self, outcome: ApprovalOutcome, kind: CredentialKind = CredentialKind.PUSH) -> None:
        self.counted.append(("approvals", f"{kind}:{outcome}"))

    def uploaded(self, outcome: UploadOutcome, kind: CredentialKind = CredentialKind.PUSH) -> None:
        self.counted.append(("uploads", f"{kind}:{outcome}"))


@dataclass
class FixedApprovers:
    """``Approvers``: these users may approve."""

    users: frozenset[str] = frozenset({LEAD_1, LEAD_2})

    def check(self, tenant: TenantSettings, user_id: str) -> ApproverCheck:
        return ApproverCheck(user_id in self.users)


@dataclass
class RecordingWatchNotifier:
    """``WatchNotifier``: every post it was asked for; ``accept`` False makes Slack refuse."""

    accept: bool = True
    posts: list[str] = field(default_factory=list)

    def post_reminder(
        self, tenant: TenantSettings, certificate: TenantCertificate, reminder: Reminder
    ) -> bool:
        self.posts.append(f"reminder {reminder.threshold}")
        return self.accept

    def post_change(self, tenant: TenantSettings, change: Change, now: datetime) -> bool:
        self.posts.append(f"change {change.kind.value}")
        return self.accept

    def post_check_failed(self, tenant: TenantSettings, error: str, since: datetime) -> bool:
        self.posts.append("check failed")
        return self.accept

    def post_check_recovered(self, tenant: TenantSettings, since: datetime, now: datetime) -> bool:
        self.posts.append("recovered")
        return self.accept

    def post_token_notice(self, tenant: TenantSettings, notice: TokenNotice) -> bool:
        self.posts.append(notice.label)
        return self.accept

    def post_token_read_failed(
        self, tenant: TenantSettings, kind: CredentialKind, error: ReadError, since: datetime
    ) -> bool:
        self.posts.append(f"{kind.value} read failed")
        return self.accept


@dataclass
class RecordingSignInNotifier:
    """``SignInNotifier``: what each person was told; their Slack e-mail addresses."""

    emails: dict[str, str] = field(default_factory=dict)
    told: list[tuple[str, str]] = field(default_factory=list)  # (user id, text)

    def tell(self, tenant: TenantSettings, user_id: str, text: str) -> None:
        self.told.append((user_id, text))

    def email_of(self, user_id: str) -> str | None:
        return self.emails.get(user_id)


class ReversibleSealer:
    """``Sealer`` that marks text instead of encrypting it (the real one: adapters.sealing)."""

    def seal(self, text: str) -> str:
        return "sealed:" + text

    def open(self, sealed: str) -> str:
        if not sealed.startswith("sealed:"):
            raise SealError("The sealed value cannot be opened.")
        return sealed.removeprefix("sealed:")


@dataclass
class FakeDeviceCodes:
    """``DeviceCodeClient``: hands out codes; ``answers`` says what each poll returns."""

    started: int = 0
    polls: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Callable[[dict[str, Any]], PollResult]] = field(default_factory=list)

    def start(self) -> StartedFlow:
        self.started += 1
        code = f"CODE{self.started}"
        flow = {"device_code": f"secret-{code}", "user_code": code}
        flow["verification_uri"] = "https://microsoft.com/devicelogin"
        return StartedFlow(flow, code, "https://microsoft.com/devicelogin", 5, 900)

    def poll(self, flow: dict[str, Any]) -> PollResult:
        self.polls.append(flow)
        if not self.answers:
            return PollResult(PollOutcome.PENDING, flow)
        return self.answers.pop(0)(flow)


def signed_in_as(username: str) -> Callable[[dict[str, Any]], PollResult]:
    def answer(flow: dict[str, Any]) -> PollResult:
        return PollResult(PollOutcome.SIGNED_IN, flow, username, "home-1", '{"cache": 1}')

    return answer


@dataclass
class FakeTokens:
    """``SignInTokens``: who has a usable sign-in, and the device code client."""

    codes: FakeDeviceCodes = field(default_factory=FakeDeviceCodes)
    signed_in: set[str] = field(default_factory=set)
    _sealer: ReversibleSealer = field(default_factory=ReversibleSealer)

    @property
    def sealer(self) -> Sealer:
        return self._sealer

    def client(self, tenant: TenantSettings) -> DeviceCodeClient:
        return self.codes

    def usable(self, tenant: TenantSettings, user_id: str) -> bool:
        return user_id in self.signed_in


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
