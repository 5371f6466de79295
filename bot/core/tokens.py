"""Intune's other yearly Apple credentials beside the push certificate, as values (pure).

An ADE token (Automated Device Enrollment, Graph's ``depOnboardingSettings``) and an Apps and
Books token (VPP, ``vppTokens``) each expire a year after they were downloaded from Apple Business
or School Manager. ``AppleToken`` is one of them as Graph reported it; ``token_urgency`` ranks it
on the push certificate's scale (``bot.core.status.Urgency``), and ``token_problem`` says what is
wrong with a token that has not expired: a state other than ``valid``, or a sync failing for more
than a day. Time is always a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.model import days_until
from bot.core.status import Urgency, expiry_urgency

# A failed sync is retried by Intune; only one that has stayed failed this long is a problem.
SYNC_FAILURE_GRACE = timedelta(days=1)
VALID_STATE = "valid"


class CredentialKind(StrEnum):
    """The yearly Apple credentials Intune depends on (``APNS_WATCH`` will list these)."""

    PUSH = "push"  # the MDM push certificate (bot.core.model.TenantCertificate)
    ADE = "ade"  # Automated Device Enrollment token (formerly DEP)
    VPP = "vpp"  # Apps and Books (volume purchase) location token

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CredentialKind.PUSH: "Apple push certificate",
    CredentialKind.ADE: "Automated Device Enrollment (ADE) token",
    CredentialKind.VPP: "Apps and Books (VPP) token",
}


class TokenProblem(StrEnum):
    """Why a token needs attention although it has not expired."""

    STATE = "state"  # Intune reports a state other than ``valid`` (VPP only)
    SYNC = "sync"  # its sync with Apple has been failing for more than a day


@dataclass(frozen=True)
class AppleToken:
    """One ADE or VPP token as Microsoft Graph reports it.

    ``name``: ADE ``tokenName``; VPP ``displayName``, else ``organizationName``. ``apple_id``: ADE
    ``appleIdentifier``, VPP ``appleId``. ``state``: VPP ``state`` (ADE has none). ``last_sync``:
    ADE ``lastSuccessfulSyncDateTime``, VPP ``lastSyncDateTime``. ``sync_error``: ADE's non-zero
    ``lastSyncErrorCode`` (as text) or VPP's ``lastSyncStatus`` when ``failed``; else ``None``.
    ``failing_since``: not Graph's but the watch's: when it first saw this token's sync failing
    (VPP's ``lastSyncDateTime`` is the last *attempt*, which Intune retries, so only the watch
    knows how long a VPP sync has been failing); ``None`` while it is not, or not known.
    """

    id: str
    kind: CredentialKind
    name: str | None
    apple_id: str | None
    organization: str | None
    expires_at: datetime | None
    state: str | None = None
    last_sync: datetime | None = None
    sync_error: str | None = None
    failing_since: datetime | None = None
    last_modified: datetime | None = None  # Graph's lastModifiedDateTime (renewal read-backs)

    def days_left(self, now: datetime) -> int | None:
        """Whole days until expiry (negative once expired); ``None`` when Graph gave no expiry."""
        return days_until(self.expires_at, now)


def sync_failing_since(token: AppleToken) -> datetime | None:
    """Since when ``token``'s sync has been failing, as far as is known: ADE's last successful
    sync; for VPP, when the watch first saw it failing (``lastSyncDateTime`` is the last attempt,
    not the last success). ``None`` when the sync is not failing or the start is not known."""
    if token.sync_error is None:
        return None
    return token.last_sync if token.kind is CredentialKind.ADE else token.failing_since


def token_problem(token: AppleToken, now: datetime) -> TokenProblem | None:
    """What is wrong with ``token`` beside its expiry, if anything. An ADE token that never
    synced is failing; a VPP token whose failure the watch has not timed yet is not (yet)."""
    if token.state is not None and token.state != VALID_STATE:
        return TokenProblem.STATE
    if token.sync_error is None:
        return None
    since = sync_failing_since(token)
    if since is None:
        return TokenProblem.SYNC if token.kind is CredentialKind.ADE else None
    return TokenProblem.SYNC if now - since > SYNC_FAILURE_GRACE else None


def time_sync_failures(
    previous: tuple[AppleToken, ...] | None, current: tuple[AppleToken, ...], now: datetime
) -> tuple[AppleToken, ...]:
    """``current`` with ``failing_since`` set: kept from the last snapshot while a token's sync
    stays failed, ``now`` when the failure is new, ``None`` once it syncs again."""
    before = {t.id: t.failing_since for t in previous or () if t.sync_error is not None}
    return tuple(
        replace(t, failing_since=(before.get(t.id) or now) if t.sync_error is not None else None)
        for t in current
    )


def token_urgency(token: AppleToken, now: datetime, window_days: int = 60) -> Urgency:
    """The push certificate's scale, for a token: same thresholds; an expired token stays
    ``EXPIRED`` (it can be renewed however late, nothing re-enrolls); a Graph state of
    ``expired`` counts as expired; any other problem is at least ``CRITICAL``."""
    found = expiry_urgency(token.expires_at, now, window_days, grace_days=None)
    if token.state == "expired" and found.rank < Urgency.EXPIRED.rank:
        return Urgency.EXPIRED
    if token_problem(token, now) is not None and found.rank < Urgency.CRITICAL.rank:
        return Urgency.CRITICAL
    return found


@dataclass(frozen=True)
class ReadError:
    """Why one kind could not be read for a tenant (``status --json``'s ``*_tokens_error``)."""

    code: str  # Graph's error code, or the bot's own (e.g. ``forbidden``, ``unreachable``)
    message: str  # user-safe, already free of secrets


@dataclass(frozen=True)
class TokenRead:
    """One tenant's tokens of one kind as one check read them: the tokens, or why not."""

    kind: CredentialKind
    tokens: tuple[AppleToken, ...] = ()
    error: ReadError | None = None  # set: the kind could not be read, ``tokens`` is empty

    @property
    def ok(self) -> bool:
        return self.error is None
