"""An Apps and Books (VPP) location token file, read into plain facts (pure, no I/O).

Apple Business (or School) Manager → Preferences → Payments and Billing → Apps and Books →
*Download* gives ``sToken_for_<location>.vpptoken``: one line of base64 whose decoded text is a JSON
object ``{"token": "...", "expDate": "2027-12-03T09:30:00-0800", "orgName": "Contoso Ltd"}``.
Intune takes the file's text as the token's ``token`` property.

``read_vpp_token(data)`` checks the size before decoding, refuses private keys (never parsed), and
returns a ``VppTokenFile`` or raises ``TokenFileError("not_a_vpp_token", ...)``. The token value
itself is kept out of ``repr`` and only its SHA-256 is shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.core import der
from bot.core.token_file import bounded
from bot.errors import TokenFileError

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_EXPIRY = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_DOWNLOAD_AGAIN = (
    "In Apple Business Manager open Preferences → Payments and Billing, find Apps and Books and "
    "press Download next to the location this Intune token uses; upload that .vpptoken file "
    "unchanged."
)
MESSAGES = {
    "not_a_vpp_token": (
        "This file is not an Apps and Books (VPP) token: apns-bot expected the .vpptoken file from "
        "Apple Business Manager (base64 text of a JSON object with token, expDate and orgName). "
        + _DOWNLOAD_AGAIN
    ),
    "empty": "The file is empty. " + _DOWNLOAD_AGAIN,
    "not_base64": (
        "This file is not the base64 text a .vpptoken holds, so it is not an Apps and Books token "
        "(an ADE server token is a .p7m file instead). " + _DOWNLOAD_AGAIN
    ),
    "fields": (
        "This file decodes, but not to the token, expDate and orgName fields of an Apps and Books "
        "token: it is damaged or another kind of file. " + _DOWNLOAD_AGAIN
    ),
    "expiry": (
        "The expiry date (expDate) in this token cannot be read, so apns-bot cannot tell whether "
        "it is newer than the current one. " + _DOWNLOAD_AGAIN
    ),
}


def refuse(reason: str | None = None) -> TokenFileError:
    return TokenFileError("not_a_vpp_token", MESSAGES[reason or "not_a_vpp_token"])


@dataclass(frozen=True)
class VppTokenFile:
    organization: str  # orgName
    expires_at: datetime  # expDate, aware UTC
    sha256: str  # of the inner token value: recognises the same token, reveals nothing
    content: str = field(repr=False)  # the file's text, as sent to Intune


def read_vpp_token(data: bytes) -> VppTokenFile:
    """The facts of a ``.vpptoken`` file; raise ``TokenFileError`` (never anything else)."""
    bounded(data)
    text = data.removeprefix(b"\xef\xbb\xbf").decode("ascii", errors="replace").strip()
    if not text:
        raise refuse("empty")
    if not _BASE64.fullmatch(text):
        raise refuse("not_base64")
    try:
        decoded = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("not_base64") from None
    if der.shape(decoded) in {"pkcs12", "private_key"}:
        raise TokenFileError(
            "private_key_present",
            "This file holds a private key (base64 of a key or .p12), so apns-bot refused it "
            "without reading it. Treat it as a secret and delete it wherever it was shared.",
        )
    try:
        document = json.loads(decoded.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise refuse("fields") from None
    if not isinstance(document, dict):
        raise refuse("fields")
    values = {key: document.get(key) for key in ("token", "expDate", "orgName")}
    if not all(isinstance(v, str) and v.strip() for v in values.values()):
        raise refuse("fields")
    token, expiry, organization = (str(values[k]) for k in ("token", "expDate", "orgName"))
    return VppTokenFile(
        organization=organization.strip(),
        expires_at=parse_expiry(expiry),
        sha256=hashlib.sha256(token.encode("utf-8")).hexdigest(),
        content=re.sub(r"\s+", "", text),
    )


def parse_expiry(value: str) -> datetime:
    """Apple's ``expDate`` (``2027-12-03T09:30:00-0800``; ``Z``/``+00:00`` and fractions too) as
    an aware UTC datetime; no zone means UTC."""
    match = _EXPIRY.match(value.strip())
    if match is None:
        raise refuse("expiry")
    day, clock, fraction, offset = match.groups()
    text = f"{day}T{clock}" + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    if offset and offset.upper() != "Z":
        text += offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise refuse("expiry") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
