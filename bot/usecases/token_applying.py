"""Uploading an approved ADE or Apps and Books (VPP) token exactly once, and reading it back.

``Applying`` (``bot.usecases.applying``) claims a request with the store's compare-and-set
(approved|failed -> applying) whatever it renews, then hands a token request to ``TokenApplying``:

- before the first attempt, the token is read and the request refused when it changed in Intune
  meanwhile (``tenant_changed``) or the new token has expired;
- a retry, a replica or start-up reconciliation reads the token first and settles the request as
  applied when an earlier attempt was sent (an ``upload_sent`` audit event is written just before
  each upload) and landed (``bot.core.token_requests.token_landed``); a token that moved although
  nothing was sent was renewed by someone else (``tenant_changed``);
- an upload is sent once; after ``UploadOutcomeUnknown`` (timeout, 5xx) the token is read back
  before any new attempt, and sent again only when it did not land;
- VPP: the PATCH is followed by ``syncLicenses`` (a failure there is logged, not fatal: Intune
  syncs daily anyway);
- the read-back gives the new expiry; when Intune still shows the old one (it can take a while)
  the result says so instead of failing, and the next daily check reads it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.requests import ApplyResult, ChangeRequest, Failure, Status, TokenChange
from bot.core.token_requests import (
    changed_failure,
    renewed_elsewhere,
    shows_new_expiry,
    token_apply_blocker,
    token_landed,
)
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError, GraphError, UploadOutcomeUnknown
from bot.usecases.metrics import NO_METRICS, UploadOutcome
from bot.usecases.ports import GraphClient, Metrics, Notifier, Store

log = logging.getLogger(__name__)

UNREADABLE_FILE = (
    "The approved token was stored encrypted with an APNS_TOKEN_KEY that is no longer "
    "configured, so it cannot be uploaded. Put the old key back (APNS_TOKEN_KEY=new,old) or "
    "submit the file again with /apns renew."
)
INTERRUPTED = (
    "The bot stopped while uploading; Intune does not show this token. Press Retry upload to "
    "upload it."
)


UPLOAD_SENT = "upload_sent"  # audit event written just before each token upload
UPLOAD_REFUSED = "upload_refused"  # that upload was refused (4xx) or never left: it did not land


@dataclass(frozen=True)
class SentUpload:
    """An upload of the request that was (perhaps) sent and not refused, and Graph's
    ``lastModifiedDateTime`` read just before the first of them (None: not known)."""

    modified_before: datetime | None


class TokenApplying:
    """The token half of ``Applying``; ``fail`` is ``Applying``'s applying -> failed move."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Callable[[], datetime],
        fail: Callable[[ChangeRequest, Failure], None],
        refresh: Callable[[str], ChangeRequest | None],
        *,
        attempts: int,
        wait: Callable[[int], None],
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.fail = fail
        self.refresh = refresh
        self.attempts = attempts
        self.wait = wait
        self.metrics = metrics

    def apply(self, request: ChangeRequest, client: GraphClient) -> None:
        """Upload the claimed (``applying``) request's token, or settle it; raises
        ``ApnsBotError`` for ``Applying`` to record as the failure."""
        change = _change(request)
        current = read(client, change)
        if self._landed(request, current):
            self.finish(request, current)  # a retry after a lost answer
            return
        blocker = token_apply_blocker(request, current, self.clock())
        if blocker is not None:
            self.fail(request, blocker)
            return
        if not request.certificate_pem:  # sealed with an APNS_TOKEN_KEY no longer configured
            raise ApnsBotError(UNREADABLE_FILE)
        self._upload(request, change, client, current.last_modified)

    def _upload(
        self,
        request: ChangeRequest,
        change: TokenChange,
        client: GraphClient,
        modified_before: datetime | None,
    ) -> None:
        before = modified_before.isoformat() if modified_before is not None else None
        for attempt in range(1, self.attempts + 1):
            self.store.audit(  # durable before the upload: a moved token may then be ours
                request.tenant,
                UPLOAD_SENT,
                "system",
                self.clock(),
                request_id=request.id,
                detail={"attempt": attempt, "modified_before": before},
            )
            try:
                send(client, request, change)
            except UploadOutcomeUnknown as exc:
                try:
                    observed = read(client, change)
                except GraphError:
                    log.warning("read-back after an unknown upload failed (request %s)", request.id)
                    raise exc from None
                if self._landed(request, observed):
                    self.finish(request, observed)
                    return
                if renewed_elsewhere(request, observed):
                    self.fail(request, changed_failure(change, observed))
                    return
                if attempt == self.attempts:
                    raise
                log.info("token of %s not in place after %s; retrying", request.id, exc.status)
                self.wait(attempt)
                continue
            except GraphError as exc:
                if exc.sent is False or not exc.transient:  # definitely not applied
                    self._refused(request, attempt)
                raise
            if change.kind is CredentialKind.VPP:
                try:
                    client.sync_vpp_licenses(change.token_id)
                except GraphError as exc:
                    log.warning("syncLicenses after %s failed: %s", request.id, exc.status)
            try:
                observed_after: AppleToken | None = read(client, change)
            except GraphError:
                log.warning("read-back after uploading %s failed", request.id)
                observed_after = None
            self.finish(request, observed_after)
            return

    def finish(self, request: ChangeRequest, observed: AppleToken | None) -> None:
        """applying|failed -> applied, with the expiry Graph shows if it is already the new one."""
        shown = observed is not None and shows_new_expiry(request, observed)
        expiry = observed.expires_at if observed is not None and shown else None
        now = self.clock()
        if self.store.transition(
            request.id,
            (Status.APPLYING, Status.FAILED),
            Status.APPLIED,
            now,
            result=ApplyResult(None, None, expiry),
            detail={"new_expiry_shown": shown},
        ):
            self.metrics.uploaded(UploadOutcome.APPLIED)
            done = self.refresh(request.id)
            self.notifier.post_token_renewed(done or request, expiry)

    def _refused(self, request: ChangeRequest, attempt: int) -> None:
        self.store.audit(
            request.tenant,
            UPLOAD_REFUSED,
            "system",
            self.clock(),
            request_id=request.id,
            detail={"attempt": attempt},
        )

    def sent(self, request: ChangeRequest) -> SentUpload | None:
        """The request's upload that was (perhaps) sent and not refused: only then is a moved
        token ours. Each ``upload_refused`` withdraws the ``upload_sent`` just before it; the
        modification date is the one read before the earliest send still open."""
        events = self.store.history(request.tenant, request_id=request.id, limit=200)
        open_sends: list[SentUpload] = []
        for e in sorted(events, key=lambda e: e.id):
            if e.event == UPLOAD_SENT:
                before = e.detail.get("modified_before")
                at = datetime.fromisoformat(before) if isinstance(before, str) else None
                open_sends.append(SentUpload(at))
            elif e.event == UPLOAD_REFUSED and open_sends:
                open_sends.pop()
        return open_sends[0] if open_sends else None

    def _landed(self, request: ChangeRequest, observed: AppleToken) -> bool:
        sent = self.sent(request)
        return sent is not None and token_landed(
            request, observed, modified_before=sent.modified_before
        )

    def reconcile(self, request: ChangeRequest, client: GraphClient) -> None:
        """A request a crash left in ``applying``: applied when its upload was sent and the token
        moved; else failed (Retry reads the token again, and refuses one changed meanwhile)."""
        observed = read(client, _change(request))
        if self._landed(request, observed):
            self.finish(request, observed)
        else:
            self.fail(request, Failure("interrupted", INTERRUPTED))


def read(client: GraphClient, change: TokenChange) -> AppleToken:
    if change.kind is CredentialKind.ADE:
        return client.get_ade_token(change.token_id)
    return client.get_vpp_token(change.token_id)


def send(client: GraphClient, request: ChangeRequest, change: TokenChange) -> None:
    if change.kind is CredentialKind.ADE:
        client.upload_ade_token(change.token_id, request.apple_id, request.certificate_pem)
    else:
        client.upload_vpp_token(change.token_id, request.certificate_pem)


def _change(request: ChangeRequest) -> TokenChange:
    if request.token is None:
        raise ValueError(f"request {request.id} renews the push certificate")
    return request.token
