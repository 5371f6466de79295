"""Submitting an ADE server token or an Apps and Books (VPP) token for approval.

The file is checked (``bot.core.token_checks``) against what Graph reports now: the token it
renews, the tenant's other tokens of that kind (VPP duplicates) and Intune's current public key
for the token (ADE). Nothing is stored before the checks pass; a request that passes goes through
``Renewals.propose``, so approvals, N-of-M, no self-approval, expiry, rejection, history and
delegated sign-in are the push certificate's. Approving it hands it to ``Applying``, which
uploads it with ``bot.usecases.token_applying``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings, TenantSettings
from bot.core.ade_token import MAX_TOKEN_FILE_BYTES
from bot.core.requests import (
    ChangeRequest,
    RequestWarning,
    TokenChange,
    new_change_request,
    new_request_id,
)
from bot.core.token_checks import TokenInspection, inspect_token
from bot.core.token_choice import TokenChoice, choose_token
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError
from bot.usecases.metrics import NO_METRICS, RequestOutcome
from bot.usecases.ports import GraphClient, Graphs, Metrics
from bot.usecases.renewals import Renewals

MAX_TOKEN_UPLOAD_BYTES = MAX_TOKEN_FILE_BYTES  # what the readers accept, read no further
TOKEN_KINDS = (CredentialKind.ADE, CredentialKind.VPP)


class TokenNotFoundError(ApnsBotError):
    """The token named in the form is not (any more) one of the tenant's."""


@dataclass(frozen=True)
class TokenSubmission:
    """What became of an uploaded token file."""

    inspection: TokenInspection
    request: ChangeRequest | None = None  # None when a blocking problem stopped it
    posted: bool = False
    waiting_for: ChangeRequest | None = None


def list_tokens(client: GraphClient, kind: CredentialKind) -> list[AppleToken]:
    if kind is CredentialKind.ADE:
        return client.list_ade_tokens()
    if kind is CredentialKind.VPP:
        return client.list_vpp_tokens()
    raise ValueError(f"not a token kind: {kind}")


class TokenRenewals:
    def __init__(
        self,
        settings: Settings,
        graph: Graphs,
        renewals: Renewals,
        clock: Callable[[], datetime],
        *,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.renewals = renewals  # stores and posts a checked request
        self.clock = clock
        self.metrics = metrics

    def choose(
        self, tenant: TenantSettings, kind: CredentialKind, wanted: str | None
    ) -> TokenChoice:
        """The tenant's token of ``kind`` named ``wanted`` (id or name), or the only one."""
        return choose_token(list_tokens(self.graph(tenant), kind), wanted)

    def submit(
        self,
        tenant: TenantSettings,
        requester: str,
        kind: CredentialKind,
        token_id: str,
        content: bytes,
        *,
        apple_id: str | None = None,
        reason: str | None = None,
    ) -> TokenSubmission:
        """Check ``content`` as a renewal of the token ``token_id``; if it passes, ask approvers."""
        if kind not in TOKEN_KINDS:
            raise ValueError(f"not a token kind: {kind}")
        try:
            client = self.graph(tenant)
            tokens = list_tokens(client, kind)
            current = next((t for t in tokens if t.id == token_id), None)
            if current is None:
                raise TokenNotFoundError(
                    f"Intune has no {kind.label} with id {token_id} any more; start again with "
                    f"/apns renew {kind.value}."
                )
            key = client.ade_public_key(token_id) if kind is CredentialKind.ADE else None
        except ApnsBotError:
            self.metrics.requested(RequestOutcome.ERROR)
            raise
        now = self.clock()
        typed = (apple_id or "").strip() if kind is CredentialKind.ADE else None
        inspection = inspect_token(
            content,
            now=now,
            kind=kind,
            current=current,
            others=tokens,
            public_key=key,
            apple_id=typed,
        )
        facts = inspection.vpp or inspection.ade
        if inspection.blocking or facts is None:
            self.metrics.requested(RequestOutcome.BLOCKED)
            return TokenSubmission(inspection)
        new_expiry = inspection.vpp.expires_at if inspection.vpp is not None else None
        request = new_change_request(
            id=new_request_id(now, secrets.token_bytes(10)),
            tenant=tenant.name,
            requester=requester,
            apple_id=typed if typed is not None else (current.apple_id or ""),
            certificate_pem=facts.content,  # the token file: sealed at rest like a certificate
            sha256=facts.sha256,
            topic="",
            serial="",
            not_after=new_expiry or current.expires_at or now,
            now=now,
            ttl=timedelta(hours=self.settings.approval_ttl_hours),
            warnings=tuple(
                RequestWarning(p.code, p.severity, p.message) for p in inspection.warnings
            ),
            reason=reason,
            token=TokenChange(
                kind=kind,
                token_id=current.id,
                token_name=current.name,
                organization=current.organization,
                current_apple_id=current.apple_id,
                current_expiry=current.expires_at,
                current_modified=current.last_modified,
                new_expiry=new_expiry,
            ),
        )
        proposal = self.renewals.propose(request)
        return TokenSubmission(
            inspection, proposal.request, proposal.posted, waiting_for=proposal.waiting_for
        )
