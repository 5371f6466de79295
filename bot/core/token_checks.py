"""Pre-flight checks for an uploaded ADE server token or Apps and Books (VPP) token (pure).

``inspect_token(data, now=..., kind=None, ...)`` reads the file (``bot.core.ade_token``,
``bot.core.vpp_token``; the kind is detected when not given), checks it against what Graph reports
about the token it would renew, and returns a ``TokenInspection``: the file's facts and a list of
``Problem``s, errors first. An ``error`` blocks a renewal; a ``warning`` is shown to approvers. The
codes are public (JSON output, Slack messages) and listed in ``CODES`` with their severity.

What Graph cannot tell, these checks cannot either; in particular Graph never returns a VPP token's
value, so ``duplicate_token`` is found by organisation and expiry: another VPP token of the tenant
with the file's ``orgName`` and an expiry within ``DUPLICATE_WINDOW`` of its ``expDate`` is taken to
hold this very token (Apple gives each download of a location's token a new expiry, to the second). An ADE token
is encrypted, so its expiry is unknown until Intune has opened it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.ade_token import AdeTokenFile, IntuneKey, encrypted_to, read_intune_key
from bot.core.ade_token import read_ade_token as _read_ade
from bot.core.checks import Problem, Severity, codes_in, errors_in, is_blocking, warnings_in
from bot.core.token_file import HEADER_LINE, bounded
from bot.core.tokens import AppleToken, CredentialKind
from bot.core.vpp_token import VppTokenFile, read_vpp_token
from bot.errors import TokenFileError

CODES: dict[str, Severity] = {
    # the file itself (raised by the readers as TokenFileError)
    "too_large": "error",
    "private_key_present": "error",
    "not_a_token": "error",
    "not_a_vpp_token": "error",
    "not_an_ade_token": "error",
    # Apps and Books (VPP)
    "expired": "error",
    "not_newer": "error",
    "organization_mismatch": "error",
    "duplicate_token": "error",
    # ADE
    "wrong_public_key": "error",
    "public_key_not_checked": "warning",  # no key was given at all
    "public_key_unreadable": "error",  # a key was given but is not a certificate
    "invalid_apple_id": "error",
    "apple_id_mismatch": "warning",
}

# Apple writes expDate to the second and Graph reports it back so: the same download differs by
# less than a second, while two locations downloaded one after the other (a batch renewal) differ
# by seconds and must not block each other.
DUPLICATE_WINDOW = timedelta(seconds=1)
_APPLE_ID = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NEITHER_KIND = (
    "This file is neither an ADE server token (the smime.p7m file from Apple Business Manager → "
    "Your MDM Servers → Download Token) nor an Apps and Books token (the .vpptoken file from "
    "Payments and Billing → Apps and Books). Upload one of those files unchanged."
)


def problem(code: str, message: str) -> Problem:
    return Problem(code, CODES[code], message)


@dataclass(frozen=True)
class TokenInspection:
    """The outcome of a token pre-flight: ``blocking`` when any problem is an error."""

    kind: CredentialKind | None  # None: the file was not recognised as either kind
    problems: tuple[Problem, ...] = ()
    ade: AdeTokenFile | None = None
    vpp: VppTokenFile | None = None
    current: AppleToken | None = None  # the token the file was checked against
    public_key: IntuneKey | None = None  # Intune's key it was matched with (ADE)

    @property
    def blocking(self) -> bool:
        return is_blocking(self.problems)

    @property
    def errors(self) -> list[Problem]:
        return errors_in(self.problems)

    @property
    def warnings(self) -> list[Problem]:
        return warnings_in(self.problems)

    @property
    def codes(self) -> list[str]:
        return codes_in(self.problems)

    def as_dict(self, *, evaluated_at: datetime | None = None) -> dict[str, Any]:
        """The public JSON shape (``apns-bot inspect-token --json``); never the token's value."""
        return {
            "kind": self.kind.value if self.kind else None,
            "vpp": _vpp_dict(self.vpp),
            "ade": _ade_dict(self.ade),
            "current": _token_dict(self.current),
            "public_key": _key_dict(self.public_key),
            "evaluated_at": _iso(evaluated_at),
            "blocking": self.blocking,
            "problems": [p.as_dict() for p in self.problems],
        }


def inspect_token(
    data: bytes,
    *,
    now: datetime,
    kind: CredentialKind | None = None,
    current: AppleToken | None = None,
    others: Iterable[AppleToken] = (),
    public_key: str | None = None,
    apple_id: str | None = None,
) -> TokenInspection:
    """Read ``data`` as ``kind`` (None: whichever it is) and check it. Never raises for any bytes.

    ``current``: the token it would renew, as Graph reports it (None: not compared). ``others``:
    the tenant's other tokens of that kind (VPP duplicates). ``public_key``: Intune's key for the
    ADE token, as ``getEncryptionPublicKey`` returned it (None: not checked). ``apple_id``: the
    Apple ID typed for an ADE upload.
    """
    _require_aware(now)
    if kind is None:
        try:
            kind = detect_kind(data)
        except TokenFileError as exc:
            return TokenInspection(None, (problem(exc.code, exc.user_message),))
    if kind == CredentialKind.VPP:
        return inspect_vpp(data, now=now, current=current, others=others)
    if kind == CredentialKind.ADE:
        return inspect_ade(data, now=now, public_key=public_key, apple_id=apple_id, current=current)
    raise ValueError(f"not a token kind: {kind}")


def detect_kind(data: bytes) -> CredentialKind:
    """ADE or VPP by the file's shape; ``TokenFileError`` (``too_large``, ``private_key_present``
    or the most fitting ``not_*``) when it is neither."""
    bounded(data)
    stripped = data.removeprefix(b"\xef\xbb\xbf").strip()
    if stripped[:1] == b"\x30" or HEADER_LINE.match(stripped) or b"-----BEGIN" in stripped:
        return CredentialKind.ADE  # S/MIME headers, a PEM block or DER: only ADE tokens look so
    try:
        decoded = base64.b64decode(re.sub(rb"\s+", b"", stripped), validate=True)
    except (binascii.Error, ValueError):
        raise TokenFileError("not_a_token", NEITHER_KIND) from None
    if decoded.lstrip()[:1] == b"{":
        return CredentialKind.VPP
    if decoded[:1] == b"\x30":
        return CredentialKind.ADE  # the base64 of a CMS without Apple's headers
    raise TokenFileError("not_a_token", NEITHER_KIND)


# --- Apps and Books (VPP) -------------------------------------------------------------------------


def inspect_vpp(
    data: bytes,
    *,
    now: datetime,
    current: AppleToken | None = None,
    others: Iterable[AppleToken] = (),
) -> TokenInspection:
    _require_aware(now)
    try:
        token = read_vpp_token(data)
    except TokenFileError as exc:
        return TokenInspection(CredentialKind.VPP, (problem(exc.code, exc.user_message),))
    problems = [*_vpp_problems(token, now, current, others)]
    problems.sort(key=lambda p: p.severity != "error")
    return TokenInspection(CredentialKind.VPP, tuple(problems), vpp=token, current=current)


def _vpp_problems(
    token: VppTokenFile, now: datetime, current: AppleToken | None, others: Iterable[AppleToken]
) -> Iterator[Problem]:
    if now >= token.expires_at:
        yield problem(
            "expired",
            f"This token expired on {_day(token.expires_at)}. Download a fresh one from Apple "
            "Business Manager (Payments and Billing → Apps and Books → Download).",
        )
    if current is not None:
        current_expiry = _utc(current.expires_at)
        if current_expiry is not None and token.expires_at <= current_expiry:
            yield problem(
                "not_newer",
                f"This token expires on {_day(token.expires_at)}, not after the current token "
                f"'{_quote(current.name or current.id)}' ({_day(current_expiry)}): it is the same "
                "or an older download. Download the token again in Apple Business Manager.",
            )
        if current.organization and _same(current.organization) != _same(token.organization):
            yield problem(
                "organization_mismatch",
                f"This token belongs to '{_quote(token.organization)}', but the token it would "
                f"renew belongs to '{_quote(current.organization)}'. Uploading another "
                "organisation's token moves the app licences there. Download the token of the "
                "right organisation (and location) in Apple Business Manager.",
            )
    for other in others:
        if current is not None and other.id == current.id:
            continue
        other_expiry = _utc(other.expires_at)
        if (
            other.organization
            and _same(other.organization) == _same(token.organization)
            and other_expiry is not None
            and abs(other_expiry - token.expires_at) < DUPLICATE_WINDOW
        ):
            yield problem(
                "duplicate_token",
                f"Intune already uses this token for '{_quote(other.name or other.id)}' (same "
                f"organisation, same expiry {_day(other_expiry)}). One location token can serve "
                "only one Intune token: download the token of the right location in Apple "
                "Business Manager.",
            )
            break


# --- Automated Device Enrollment (ADE) ------------------------------------------------------------


def inspect_ade(
    data: bytes,
    *,
    now: datetime,
    public_key: str | None = None,
    apple_id: str | None = None,
    current: AppleToken | None = None,
) -> TokenInspection:
    _require_aware(now)
    try:
        token = _read_ade(data)
    except TokenFileError as exc:
        return TokenInspection(CredentialKind.ADE, (problem(exc.code, exc.user_message),))
    problems: list[Problem] = []
    key: IntuneKey | None = None
    name = _quote(current.name or current.id) if current is not None else "this token"
    if public_key is None:
        problems.append(
            problem(
                "public_key_not_checked",
                "The token was not matched with Intune's public key (none was given), so it is "
                "not known whether Intune can open it. Check it against the tenant "
                "(apns-bot inspect-token FILE --against-graph) before uploading.",
            )
        )
    else:
        try:
            key = read_intune_key(public_key)
        except TokenFileError as exc:  # given but unreadable: never pass the token unchecked
            problems.append(problem("public_key_unreadable", exc.user_message))
    if key is not None and not encrypted_to(token, key):
        found = recipients_text(token)
        problems.append(
            problem(
                "wrong_public_key",
                f"This token was encrypted to another key ({found}) than Intune's current public "
                f"key for {name} ({_recipient_text(key.issuer, key.serial, None)}): it was made "
                "with another MDM server's key or an older key download, and Intune cannot open "
                "it. Download the key again (/apns ade-key), upload it to the MDM server in Apple "
                "Business Manager, then download a new token.",
            )
        )
    problems.extend(_apple_id_problems(apple_id, current))
    problems.sort(key=lambda p: p.severity != "error")
    return TokenInspection(
        CredentialKind.ADE, tuple(problems), ade=token, current=current, public_key=key
    )


def _apple_id_problems(apple_id: str | None, current: AppleToken | None) -> Iterator[Problem]:
    if apple_id is None:
        return
    typed = apple_id.strip()
    if not _APPLE_ID.match(typed):
        yield problem(
            "invalid_apple_id",
            f"'{_quote(typed)}' is not an Apple ID (an e-mail address such as "
            "abm-admin@contoso.example).",
        )
        return
    known = (current.apple_id or "").strip() if current is not None else ""
    if known and known.casefold() != typed.casefold():
        yield problem(
            "apple_id_mismatch",
            f"The Apple ID typed ({_quote(typed)}) differs from the one Intune has for this token "
            f"({_quote(known)}). Intune allows a change, but it is rarely intended: use the "
            "Managed Apple Account that manages this MDM server in Apple Business Manager.",
        )


# --- helpers -----------------------------------------------------------------------------------


MAX_RECIPIENTS_SHOWN = 3  # a token has one recipient; a crafted file may name hundreds


def recipients_text(token: AdeTokenFile, limit: int = MAX_RECIPIENTS_SHOWN) -> str:
    """The first ``limit`` recipients of ``token``, then "+N more"."""
    shown = [_recipient_text(r.issuer, r.serial, r.key_identifier) for r in token.recipients]
    extra = len(shown) - limit
    return "; ".join(shown[:limit]) + (f"; +{extra} more" if extra > 0 else "")


def _recipient_text(issuer: str | None, serial: str | None, key_identifier: str | None) -> str:
    if key_identifier is not None:
        return f"key identifier {key_identifier}"
    return f"issuer '{_quote(issuer or '(none)', 80)}', serial {serial or '(none)'}"


def _same(text: str) -> str:
    return " ".join(text.split()).casefold()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (tzinfo set, e.g. UTC)")


def _vpp_dict(token: VppTokenFile | None) -> dict[str, Any] | None:
    if token is None:
        return None
    return {
        "organization": token.organization,
        "expires_at": _iso(token.expires_at),
        "token_sha256": token.sha256,
    }


def _ade_dict(token: AdeTokenFile | None) -> dict[str, Any] | None:
    if token is None:
        return None
    return {
        "smime": token.smime,
        "sha256": token.sha256,
        "content_encryption": token.content_encryption,
        "recipients": [
            {
                "kind": r.kind,
                "issuer": r.issuer,
                "serial": r.serial,
                "key_identifier": r.key_identifier,
                "key_encryption": r.key_encryption,
            }
            for r in token.recipients
        ],
    }


def _token_dict(token: AppleToken | None) -> dict[str, Any] | None:
    if token is None:
        return None
    return {
        "id": token.id,
        "name": token.name,
        "apple_id": token.apple_id,
        "organization": token.organization,
        "expires_at": _iso(token.expires_at),
    }


def _key_dict(key: IntuneKey | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "subject": key.subject,
        "issuer": key.issuer,
        "serial": key.serial,
        "sha256": key.sha256,
        "not_after": key.not_after,
    }
