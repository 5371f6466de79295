"""Judging an ADE or Apps and Books (VPP) token renewal against what Graph reports (pure).

The push certificate is recognised in Intune by its serial; a token is not: Graph never returns a
token's value. What a read-back can tell:

- VPP: ``expirationDateTime`` equals the file's ``expDate`` (each download of a location token has
  its own expiry), or ``lastModifiedDateTime`` moved while the expiry is still the old one (Intune
  not yet showing the new expiry). An expiry moved to any other date is someone else's token.
- ADE: the file is encrypted, so its expiry is unknown before Intune opened it; after an attempt
  the upload landed when ``lastModifiedDateTime`` moved past the one seen when the request was
  made, or ``tokenExpirationDateTime`` changed; the new expiry shows once it differs from the old.

Before the first attempt only the expiry (and, ADE, the Apple ID) tell that another token is in
place: Intune moves ``lastModifiedDateTime`` on its own syncs with Apple.

Before the first upload attempt a moved token means someone else renewed it meanwhile (the request
was checked against the old one); after an attempt whose answer was lost it is taken as this
request's upload. Time is always a parameter.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.requests import ChangeRequest, Failure, TokenChange
from bot.core.tokens import AppleToken, CredentialKind

SAME_INSTANT = timedelta(seconds=1)  # Graph rounds some timestamps; Apple's expDate has seconds


def same_instant(a: datetime | None, b: datetime | None) -> bool:
    """The same moment, allowing for Graph's rounding (None only equals None)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME_INSTANT


def _modified_since(observed: AppleToken, before: datetime | None) -> bool:
    """Graph's ``lastModifiedDateTime`` moved past ``before`` (None: nothing was known)."""
    return observed.last_modified is not None and (
        before is None or observed.last_modified > before
    )


def _moved(change: TokenChange, observed: AppleToken, before: datetime | None) -> bool:
    """The token changed in Intune since ``before`` (its modification date), or its expiry did."""
    modified = _modified_since(observed, before)
    return modified or not same_instant(observed.expires_at, change.current_expiry)


def _replaced(change: TokenChange, observed: AppleToken) -> bool:
    """Another token is in place than the one the request was checked against: its expiry (or,
    ADE, its Apple ID) differs. ``lastModifiedDateTime`` alone is not enough: Intune bumps it on
    its own syncs with Apple."""
    if not same_instant(observed.expires_at, change.current_expiry):
        return True
    was, now = change.current_apple_id, observed.apple_id
    return (
        change.kind is CredentialKind.ADE
        and was is not None
        and now is not None
        and was.casefold() != now.casefold()
    )


def shows_new_expiry(request: ChangeRequest, observed: AppleToken) -> bool:
    """Graph already shows what the upload brought: VPP the file's expiry; ADE an expiry other
    than the one the request was made against."""
    change = _token(request)
    if change.kind is CredentialKind.VPP:
        return same_instant(observed.expires_at, change.new_expiry)
    return observed.expires_at is not None and not same_instant(
        observed.expires_at, change.current_expiry
    )


def token_landed(
    request: ChangeRequest, observed: AppleToken, *, modified_before: datetime | None = None
) -> bool:
    """After an attempt whose answer was lost (or a crash): did the upload reach Intune?

    ``modified_before``: ``lastModifiedDateTime`` as read just before the first upload was sent
    (else the one the request was made against). Intune moves it on its own syncs with Apple, and
    a request can wait days for approval: only a move past the read before the upload is ours.
    """
    change = _token(request)
    before = modified_before if modified_before is not None else change.current_modified
    if change.kind is CredentialKind.VPP:
        if same_instant(observed.expires_at, change.new_expiry):
            return True
        modified = _modified_since(observed, before)
        return modified and same_instant(observed.expires_at, change.current_expiry)
    return _moved(change, observed, before)


def renewed_elsewhere(request: ChangeRequest, observed: AppleToken) -> bool:
    """VPP: the expiry moved to a date that is neither the old one nor the file's: another token
    was uploaded (a console renewal). ADE cannot tell (its file's expiry is unknown)."""
    change = _token(request)
    return (
        change.kind is CredentialKind.VPP
        and not same_instant(observed.expires_at, change.current_expiry)
        and not same_instant(observed.expires_at, change.new_expiry)
    )


def token_apply_blocker(
    request: ChangeRequest, observed: AppleToken, now: datetime
) -> Failure | None:
    """Why the approved token must not be uploaded now, judged just before the first attempt."""
    change = _token(request)
    if change.new_expiry is not None and now >= change.new_expiry:
        return Failure(
            "expired",
            f"The approved token expired on {change.new_expiry:%Y-%m-%d}; download a new one in "
            f"Apple Business Manager and submit it with /apns renew {change.kind.value}.",
        )
    if _replaced(change, observed):
        return changed_failure(change, observed)
    return None


def changed_failure(change: TokenChange, observed: AppleToken) -> Failure:
    """The token changed in Intune under this request: nothing more is uploaded."""
    expiry = f"{observed.expires_at:%Y-%m-%d}" if observed.expires_at else "unknown"
    return Failure(
        "tenant_changed",
        f"The token '{change.label}' changed in Intune since this request was made (now "
        f"expiring {expiry}). This request's file is not in place; submit the file again with "
        f"/apns renew {change.kind.value} so it is checked against the current token.",
    )


RESUBMIT_CODES = frozenset({"tenant_changed", "expired"})  # the file itself can no longer go up


def needs_resubmission(request: ChangeRequest) -> bool:
    """A failed token request that Retry cannot help: the token changed in Intune meanwhile, or
    the approved file expired. Only a new submission (checked again) can renew it."""
    failure = request.failure
    return request.token is not None and failure is not None and failure.code in RESUBMIT_CODES


def _token(request: ChangeRequest) -> TokenChange:
    if request.token is None:
        raise ValueError(f"request {request.id} renews the push certificate, not a token")
    return request.token
