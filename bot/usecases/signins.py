"""Delegated sign-in use cases: the approving lead signs in from Slack, and the upload is theirs.

When the final approval arrives (or Retry is pressed) in a delegated tenant and the person has no
usable sign-in, ``before_apply`` keeps the request where it is, starts a device code flow (or
reuses their pending one) and returns the verification URL and user code for them — never the
device code. The flow is sealed in the store and polled by ``bot.usecases.device_flows`` (its
``DeviceFlowPolling``, built here), so a restart resumes it where it was.

A completed sign-in is kept only when the Microsoft account is the approver's own (its
``preferred_username`` equals their Slack e-mail, unless ``APNS_SKIP_IDENTITY_MATCH``); then the
waiting requests are applied by ``Renewals.apply`` as that person. A refused, expired or declined
sign-in moves an approved request to ``failed`` with the reason, so an approver can retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings, TenantSettings
from bot.core.mrkdwn import escape
from bot.core.requests import ChangeRequest, Failure
from bot.core.signin import (
    PendingSignIn,
    PollOutcome,
    SignInWait,
    identity_matches,
    last_approver,
    next_interval,
)
from bot.errors import ApnsBotError, SealError
from bot.usecases.device_flows import SIGNIN_REFUSED, DeviceFlowPolling, WaitingRequests
from bot.usecases.ports import Notifier, RequestApplier, SignInNotifier, SignInTokens, Store
from bot.usecases.signin_messages import already_signed_in, channel_failure, prompt, signed_out

log = logging.getLogger(__name__)

SIGNIN_STARTED = "signin_started"
SIGNED_OUT = "signed_out"
REUSE_MARGIN = timedelta(seconds=60)  # a pending code closer to expiry than this is replaced


class DelegatedSignIns:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        tokens: SignInTokens,
        notifier: SignInNotifier,
        clock: Callable[[], datetime],
        submit: Callable[..., Any],
        requests: Notifier,
    ) -> None:
        """``requests``: the renewal workflow's notifier, which re-renders a request's message."""
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.notifier = notifier
        self.clock = clock
        self.waiting = WaitingRequests(store, requests, clock)
        self.flows = DeviceFlowPolling(
            settings, store, tokens, notifier, clock, submit, self.waiting
        )

    def attach(self, renewals: RequestApplier) -> None:
        """The uploads that waited for a sign-in are made by ``renewals`` (built after this)."""
        self.waiting.applier = renewals

    def poll_due(self) -> list[Any]:
        """Poll every device code flow that is due (``DeviceFlowPolling.poll_due``)."""
        return self.flows.poll_due()

    # --- the gate in front of Renewals.apply ---------------------------------------------------

    def before_apply(
        self, request: ChangeRequest, tenant: TenantSettings, actor: str
    ) -> str | None:
        if not tenant.delegated:
            return None
        try:
            if self.tokens.usable(tenant, actor) and self._still_them(tenant, actor):
                return None
            return self.begin(tenant, actor, request)
        except ApnsBotError as exc:
            failure = channel_failure("signin_error", f"<@{actor}>", detail=exc.user_message)
            self.waiting.fail(request.id, Failure("signin_error", failure))
            return exc.user_message

    def _still_them(self, tenant: TenantSettings, user_id: str) -> bool:
        """A saved sign-in is used only while its account still matches the approver's Slack
        e-mail (it may have been saved with APNS_SKIP_IDENTITY_MATCH on, or the e-mail changed).
        A mismatch forgets it, so the approver signs in again and is checked then."""
        if tenant.skip_identity_match:
            return True
        signin = self.store.get_signin(tenant.name, user_id)
        if signin is None:
            return False
        if identity_matches(signin.username, self.notifier.email_of(user_id)):
            return True
        log.warning("saved sign-in of %s no longer matches their Slack e-mail: forgotten", user_id)
        self.store.delete_signin(tenant.name, user_id, signin.home_account_id)
        detail = {"user": user_id, "username": signin.username, "why": "identity no longer matches"}
        self.store.audit(tenant.name, SIGNIN_REFUSED, user_id, self.clock(), detail=detail)
        return False

    def resume_as(self, request: ChangeRequest, tenant: TenantSettings) -> str | None:
        """Start-up: an approved request whose sign-in is pending stays (polling resumes); one
        whose approver is signed in is applied as them; else it fails so someone can retry."""
        if not tenant.delegated:
            return "system"
        if self.store.signin_wait(request.id) is not None:
            return None
        approver = last_approver(request.approvals, request.requester)
        try:
            if approver is not None and self.tokens.usable(tenant, approver):
                return approver
        except ApnsBotError as exc:
            log.warning("cannot check the sign-in for %s yet: %s", request.id, exc.user_message)
            return None
        who = f"<@{approver}>" if approver else "the approver"
        text = channel_failure("signin_required", who)
        self.waiting.fail(request.id, Failure("signin_required", text))
        return None

    # --- starting a sign-in ----------------------------------------------------------------------

    def begin(self, tenant: TenantSettings, user_id: str, request: ChangeRequest | None) -> str:
        """Make sure ``user_id`` has a pending device code flow; the words that tell them where
        to go and which code to enter. ``request`` uploads once they have signed in."""
        now = self.clock()
        row = self.store.get_device_flow(tenant.name, user_id)
        shown = self._shown(row) if row is not None else None
        if row is not None and shown is None:  # sealed with a key that is no longer configured
            self.flows.end(row, PollOutcome.FAILED, "The pending code could not be read.")
            row = None
        elif row is not None and row.expires_at - REUSE_MARGIN <= now:
            self.flows.end(row, PollOutcome.EXPIRED, None)
            row, shown = None, None
        if row is None or shown is None:
            started = self.tokens.client(tenant).start()
            row = PendingSignIn(
                tenant=tenant.name,
                user_id=user_id,
                sealed_flow=self.tokens.sealer.seal(json.dumps(started.flow)),
                interval=next_interval(started.interval, PollOutcome.PENDING),
                next_poll_at=now + timedelta(seconds=started.interval),
                expires_at=now + timedelta(seconds=started.expires_in),
                created_at=now,
            )
            if self.store.add_device_flow(row):
                self.store.audit(tenant.name, SIGNIN_STARTED, user_id, now, detail=_ref(request))
                shown = (started.verification_uri, started.user_code)
            else:  # the same person started one a moment ago (another click, another replica)
                theirs = self.store.get_device_flow(tenant.name, user_id)
                shown = self._shown(theirs) if theirs is not None else None
                if theirs is None or shown is None:
                    raise ApnsBotError("Another sign-in was being started for you; try again.")
                row = theirs
        if request is not None:
            self.store.add_signin_wait(request.id, tenant.name, user_id, now)
            self.waiting.refresh(request.id)
        email = None if tenant.skip_identity_match else self.notifier.email_of(user_id)
        return prompt(shown[0], shown[1], row.expires_at, email, uploads=request is not None)

    def _shown(self, row: PendingSignIn) -> tuple[str, str] | None:
        """(verification URI, user code) of a pending flow; None if it cannot be opened."""
        try:
            flow = json.loads(self.tokens.sealer.open(row.sealed_flow))
        except SealError:
            return None
        return str(flow.get("verification_uri")), str(flow.get("user_code"))

    # --- /apns signin, /apns signout, rendering --------------------------------------------------

    def signin(self, tenant: TenantSettings, user_id: str) -> str:
        if not tenant.delegated:
            return (
                f"{escape(tenant.label)} uses app-only sign-in (the app's own identity): nobody needs to "
                "sign in to Microsoft."
            )
        saved = self.store.get_signin(tenant.name, user_id)
        if saved is not None and self.tokens.usable(tenant, user_id):
            return already_signed_in(saved.username, tenant.label)
        return self.begin(tenant, user_id, None)

    def signout(self, tenant: TenantSettings, user_id: str) -> str:
        saved = self.store.get_signin(tenant.name, user_id)
        forgot = self.store.delete_signin(tenant.name, user_id)
        row = self.store.get_device_flow(tenant.name, user_id)
        if row is not None:
            self.flows.end(
                row, PollOutcome.FAILED, "You signed out before the sign-in was completed."
            )
        if not forgot and row is None:
            return f"You were not signed in to Microsoft for {escape(tenant.label)}."
        self.store.audit(tenant.name, SIGNED_OUT, user_id, self.clock(), detail={"user": user_id})
        return signed_out(saved.username if saved else None, tenant.label)

    def waiting_for(self, request_id: str) -> SignInWait | None:
        return self.store.signin_wait(request_id)


def _ref(request: ChangeRequest | None) -> dict[str, str]:
    return {"request": request.id} if request is not None else {}
