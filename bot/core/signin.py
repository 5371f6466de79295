"""Delegated sign-in as values: saved sign-ins, pending device flows, and what a poll answer means.

Pure: no I/O, no clock. The device code flow (RFC 8628, Microsoft Entra's flavour) is polled one
step at a time by ``bot.usecases.signins``; ``classify_poll`` says what one answer of the token endpoint
means, ``identity_matches`` whether the account that signed in is the Slack user who approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.requests import Approval
from bot.errors import AuthError

SLOW_DOWN_STEP = 5  # seconds added to the interval on ``slow_down`` (RFC 8628 section 3.5)
MIN_INTERVAL = 1
MAX_INTERVAL = 60


@dataclass(frozen=True)
class SavedSignIn:
    """One Slack user's Microsoft sign-in for one tenant (the MSAL token cache stays sealed)."""

    tenant: str
    user_id: str
    username: str  # the account's preferred_username, e.g. lead@contoso.com
    home_account_id: str
    sealed_cache: str
    signed_in_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PendingSignIn:
    """A device code flow waiting for a Slack user to enter their code (the flow stays sealed)."""

    tenant: str
    user_id: str
    sealed_flow: str
    interval: int  # seconds between polls
    next_poll_at: datetime
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class SignInWait:
    """A change request that uploads as soon as ``user_id`` has signed in (before ``expires_at``)."""

    request_id: str
    tenant: str
    user_id: str
    expires_at: datetime


class PollOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    PENDING = "pending"  # authorization_pending: poll again after the interval
    SLOW_DOWN = "slow_down"  # poll again after the interval plus SLOW_DOWN_STEP
    EXPIRED = "expired"  # expired_token (AADSTS70019/70020): the code is dead, start again
    DECLINED = "declined"  # access_denied / authorization_declined: the person said no
    FAILED = "failed"  # anything else (bad_verification_code, invalid_client, …): stop


_OUTCOMES = {
    "authorization_pending": PollOutcome.PENDING,
    "slow_down": PollOutcome.SLOW_DOWN,
    "expired_token": PollOutcome.EXPIRED,
    "code_expired": PollOutcome.EXPIRED,
    "access_denied": PollOutcome.DECLINED,
    "authorization_declined": PollOutcome.DECLINED,
}


def classify_poll(result: dict[str, Any]) -> PollOutcome:
    """What one answer of the token endpoint to a device-code poll means."""
    if isinstance(result.get("access_token"), str) and result["access_token"]:
        return PollOutcome.SIGNED_IN
    return _OUTCOMES.get(str(result.get("error") or ""), PollOutcome.FAILED)


def next_interval(interval: int, outcome: PollOutcome) -> int:
    """Seconds until the next poll: the server's interval, plus the step after ``slow_down``."""
    step = SLOW_DOWN_STEP if outcome is PollOutcome.SLOW_DOWN else 0
    return max(MIN_INTERVAL, min(interval + step, MAX_INTERVAL))


def identity_matches(username: str | None, slack_email: str | None) -> bool:
    """The Microsoft account is the Slack user's: same address, case-insensitively."""
    if not username or not slack_email:
        return False
    return username.strip().casefold() == slack_email.strip().casefold()


def last_approver(approvals: tuple[Approval, ...], requester: str) -> str | None:
    """The approval that completed a request: the latest one not by the requester."""
    others = [a for a in approvals if a.user_id != requester]
    return others[-1].user_id if others else None


@dataclass(frozen=True)
class StartedFlow:
    """A new device code flow. ``flow`` holds the device code: seal it, never show or log it."""

    flow: dict[str, Any] = field(repr=False)
    user_code: str
    verification_uri: str
    interval: int
    expires_in: int


@dataclass(frozen=True)
class PollResult:
    outcome: PollOutcome
    flow: dict[str, Any] = field(repr=False)  # as MSAL left it, to store again while pending
    username: str | None = None  # SIGNED_IN: the account's preferred_username
    home_account_id: str | None = None
    cache: str | None = field(default=None, repr=False)  # SIGNED_IN: the serialized token cache
    error: AuthError | None = None  # why the flow ended, when it did not end signed in
