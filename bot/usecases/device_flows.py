"""Device code flows, polled one step at a time, and what their endings do to requests.

``DeviceFlowPolling`` belongs to ``bot.usecases.signins.DelegatedSignIns``. ``poll_due`` runs every
second on the scheduler: it claims each flow whose next poll is due (one replica wins the claim)
and hands one token-endpoint poll to the executor, so no thread ever waits for a person. Answers:
``authorization_pending`` polls again after the interval, ``slow_down`` after the interval plus
5 s; a sign-in is kept only for the approver's own account, then the requests waiting for it are
applied as them; ``expired_token``, a declined sign-in or any other error ends the flow and moves
what waited on it to ``failed`` with the reason, for a retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings, TenantSettings
from bot.core.requests import Failure, Status
from bot.core.signin import (
    PendingSignIn,
    PollOutcome,
    PollResult,
    SavedSignIn,
    identity_matches,
    next_interval,
)
from bot.errors import ApnsBotError, SealError
from bot.usecases.ports import Notifier, RequestApplier, SignInNotifier, SignInTokens, Store
from bot.usecases.signin_messages import channel_failure, ended_note, mismatch_note, signed_in_note

log = logging.getLogger(__name__)

SIGNED_IN = "signed_in"
SIGNIN_REFUSED = "signin_refused"
SIGNIN_FAILED = "signin_failed"
LEASE = timedelta(seconds=60)  # a claimed poll that never reports back is retried after this


class WaitingRequests:
    """What a sign-in's ending does to the approved requests that waited for it."""

    def __init__(self, store: Store, notifier: Notifier, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.applier: RequestApplier | None = None  # Renewals, attached once it is built

    def resume(self, request_id: str, user_id: str) -> None:
        request = self.store.get_request(request_id)
        if request is None or self.applier is None:
            return
        if request.status in (Status.APPROVED, Status.FAILED):
            retry = request.status is Status.FAILED
            self.applier.apply(request_id, actor=user_id, retry=retry)

    def fail(self, request_id: str, failure: Failure) -> None:
        """An approved request cannot upload yet: failed, so an approver can retry it."""
        self.store.remove_signin_wait(request_id)
        request = self.store.get_request(request_id)
        if request is not None and request.status is Status.APPROVED:
            self.store.transition(
                request_id,
                Status.APPROVED,
                Status.FAILED,
                self.clock(),
                failure=failure,
                detail={"code": failure.code},
            )
        self.refresh(request_id)

    def refresh(self, request_id: str) -> None:
        request = self.store.get_request(request_id)
        if request is not None:
            self.notifier.update_request(request)


@dataclass
class DeviceFlowPolling:
    """Built by ``DelegatedSignIns`` from its own parts (the same settings, store, tokens...)."""

    settings: Settings
    store: Store
    tokens: SignInTokens
    notifier: SignInNotifier
    clock: Callable[[], datetime]
    submit: Callable[..., Any]  # the bot's executor: Background.submit
    requests: WaitingRequests

    def poll_due(self) -> list[Any]:
        """Claim every flow whose next poll is due and poll each on the executor; returns what
        ``submit`` returned for each (futures), so a caller may wait for them."""
        now = self.clock()
        polls = []
        for row in self.store.list_device_flows(due_by=now):
            if self.store.claim_device_flow(row, now + LEASE):
                polls.append(self.submit(self.poll_one, replace(row, next_poll_at=now + LEASE)))
        return polls

    def poll_one(self, row: PendingSignIn) -> None:
        tenant = self.settings.tenants.get(row.tenant)
        now = self.clock()
        if tenant is None or now >= row.expires_at:
            self.end(row, PollOutcome.EXPIRED, None)
            return
        try:
            flow = json.loads(self.tokens.sealer.open(row.sealed_flow))
        except SealError as exc:
            self.end(row, PollOutcome.FAILED, exc.user_message)
            return
        flow["interval"] = row.interval
        try:
            result = self.tokens.client(tenant).poll(flow)
        except ApnsBotError as exc:  # Entra ID unreachable: try again at the next interval
            log.warning("sign-in poll for %s failed: %s", row.user_id, exc.user_message)
            self._reschedule(row, flow, row.interval, now)
            return
        if result.outcome in (PollOutcome.PENDING, PollOutcome.SLOW_DOWN):
            self._reschedule(row, result.flow, next_interval(row.interval, result.outcome), now)
        elif result.outcome is PollOutcome.SIGNED_IN:
            self._signed_in(tenant, row, result)
        else:
            self.end(row, result.outcome, result.error.user_message if result.error else None)

    def _reschedule(
        self, row: PendingSignIn, flow: dict[str, Any], interval: int, now: datetime
    ) -> None:
        flow = {**flow, "interval": interval}
        sealed = self.tokens.sealer.seal(json.dumps(flow))
        self.store.reschedule_device_flow(row, sealed, interval, now + timedelta(seconds=interval))

    # --- outcomes ------------------------------------------------------------------------------

    def _signed_in(self, tenant: TenantSettings, row: PendingSignIn, result: PollResult) -> None:
        username = result.username or ""
        if not tenant.skip_identity_match:
            email = self.notifier.email_of(row.user_id)
            if not identity_matches(username, email):
                waiting = self.store.finish_device_flow(row.tenant, row.user_id)
                if waiting is None:
                    return
                now = self.clock()
                detail = {"user": row.user_id, "username": username, "slack_email": email or ""}
                self.store.audit(row.tenant, SIGNIN_REFUSED, row.user_id, now, detail=detail)
                self.notifier.tell(tenant, row.user_id, mismatch_note(username, email))
                failure = Failure(
                    "signin_refused",
                    channel_failure("signin_refused", f"<@{row.user_id}>", username),
                )
                for request_id in waiting:
                    self.requests.fail(request_id, failure)
                return
        if result.cache is None or result.home_account_id is None:
            self.end(row, PollOutcome.FAILED, "Microsoft Entra ID answered without an account.")
            return
        waiting = self.store.finish_device_flow(row.tenant, row.user_id)
        if waiting is None:
            return
        now = self.clock()
        sealed = self.tokens.sealer.seal(result.cache)
        saved = SavedSignIn(
            row.tenant, row.user_id, username, result.home_account_id, sealed, now, now
        )
        self.store.save_signin(saved)
        detail = {"user": row.user_id, "username": username}
        self.store.audit(row.tenant, SIGNED_IN, row.user_id, now, detail=detail)
        self.notifier.tell(tenant, row.user_id, signed_in_note(username, uploads=bool(waiting)))
        for request_id in waiting:
            self.requests.resume(request_id, row.user_id)

    def end(self, row: PendingSignIn, outcome: PollOutcome, detail: str | None) -> None:
        """The flow is over without a sign-in: tell the person, fail what waited for it."""
        waiting = self.store.finish_device_flow(row.tenant, row.user_id)
        if waiting is None:
            return
        code = {
            PollOutcome.EXPIRED: "signin_expired",
            PollOutcome.DECLINED: "signin_declined",
        }.get(outcome, "signin_failed")
        now = self.clock()
        self.store.audit(
            row.tenant, SIGNIN_FAILED, row.user_id, now, detail={"user": row.user_id, "code": code}
        )
        tenant = self.settings.tenants.get(row.tenant)
        if tenant is not None:
            self.notifier.tell(tenant, row.user_id, ended_note(code, detail))
        failure = Failure(code, channel_failure(code, f"<@{row.user_id}>", detail=detail))
        for request_id in waiting:
            self.requests.fail(request_id, failure)
