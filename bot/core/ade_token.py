"""An Automated Device Enrollment (ADE) server token file, read into plain facts (pure, no I/O).

Apple Business (or School) Manager hands out the server token as ``<server>_Token_<date>_smime.p7m``:
an S/MIME message (MIME headers such as ``Content-Type: application/pkcs7-mime; name="smime.p7m";
smime-type=enveloped-data`` and ``Content-Transfer-Encoding: base64``, a blank line, then the base64
of a CMS ``EnvelopedData``) encrypted to the public key Intune gave for that token. Only Intune's
private key opens it, so apns-bot cannot see the token's expiry; what it can see is *to whom* it was
encrypted: each recipient's issuer and serial number (or subject key identifier). That is compared
with Intune's current public key (``getEncryptionPublicKey``) to catch a token made with another
server's key or an older key download.

``read_ade_token(data)`` accepts Apple's S/MIME file (LF or CRLF, base64 in lines or in one), and
also the bare base64, a PEM ``PKCS7``/``CMS`` block or raw DER of the same ``EnvelopedData``. It
refuses, with a ``TokenFileError``: ``too_large`` (before any decoding), ``private_key_present``
(a key block, a PuTTY key, a PKCS#12 or DER key, never parsed) and ``not_an_ade_token``.
CMS is read with ``asn1crypto`` (BER indefinite lengths included, as Apple writes them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from bot.core import der
from bot.core.token_file import FILE_MESSAGES, HEADER_LINE
from bot.core.token_file import MAX_TOKEN_FILE_BYTES as MAX_TOKEN_FILE_BYTES
from bot.core.token_file import bounded as bounded
from bot.errors import TokenFileError

SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
APPLE_SMIME_HEADERS = (
    'Content-Type: application/pkcs7-mime; name="smime.p7m"; smime-type=enveloped-data\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    'Content-Disposition: attachment; filename="smime.p7m"\r\n'
    "Content-Description: S/MIME Encrypted Message\r\n"
)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_PEM_CMS = re.compile(
    rb"-----BEGIN (PKCS7|CMS|PKCS #7 ENVELOPED DATA)-----(.*?)-----END \1-----", re.DOTALL
)
_BASE64 = re.compile(rb"[A-Za-z0-9+/=\s]+")

_DOWNLOAD_AGAIN = (
    "In Apple Business Manager open Preferences → Your MDM Servers, pick the server for this "
    "token, upload Intune's current public key (/apns ade-key) and press Download Token; upload "
    "that smime.p7m file unchanged."
)
MESSAGES = {
    **FILE_MESSAGES,
    "not_an_ade_token": (
        "This file is not an ADE server token: apns-bot expected the smime.p7m file Apple Business "
        "Manager downloads (an S/MIME message encrypted to Intune's public key). " + _DOWNLOAD_AGAIN
    ),
    "empty": "The file is empty. " + _DOWNLOAD_AGAIN,
    "damaged": "The encrypted token in this file is damaged or incomplete. " + _DOWNLOAD_AGAIN,
    "not_enveloped": (
        "This is a PKCS#7/CMS file, but not an encrypted (enveloped) one, so it is not a server "
        "token (perhaps a certificate bundle or a signed file). " + _DOWNLOAD_AGAIN
    ),
    "wrong_mime": (
        "This file is a MIME message, but not an S/MIME encrypted one (application/pkcs7-mime, "
        "enveloped-data). " + _DOWNLOAD_AGAIN
    ),
}


def refuse(code: str, reason: str | None = None) -> TokenFileError:
    return TokenFileError(code, MESSAGES[reason or code])


@dataclass(frozen=True)
class Recipient:
    """One recipient of the ``EnvelopedData``: the key the token was encrypted to."""

    kind: str  # "issuer_and_serial", "key_identifier" or another CMS recipient type
    issuer: str | None  # human form, e.g. "CN=Intune DEP, O=Microsoft" (issuer_and_serial only)
    serial: str | None  # upper-case hex
    key_identifier: str | None  # hex (key_identifier only)
    key_encryption: str | None  # e.g. rsaes_pkcs1v15, rsaes_oaep
    issuer_der: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class AdeTokenFile:
    """What can be seen of a server token without Intune's private key."""

    recipients: tuple[Recipient, ...]
    content_encryption: str | None  # e.g. aes256_cbc, tripledes_3key
    smime: bool  # the file came with S/MIME headers (Apple's layout)
    sha256: str  # of the encrypted CMS (DER/BER as found): to recognise the same file again
    content: str = field(repr=False)  # the text sent to Intune as ``depToken``


@dataclass(frozen=True)
class IntuneKey:
    """Intune's public key for one ADE token, as ``getEncryptionPublicKey`` gives it."""

    subject: str
    issuer: str
    serial: str  # upper-case hex
    key_identifier: str | None  # hex of the SubjectKeyIdentifier extension, if any
    sha256: str
    issuer_der: bytes = field(repr=False)
    not_after: str  # ISO date, informational
    pem: str = field(default="", repr=False)  # the certificate as PEM, whatever Graph's armour
    # SHA-1 of the key's subjectPublicKey bits (RFC 5280 4.2.1.2 method 1), hex
    computed_key_identifier: str | None = field(default=None, repr=False)

    @property
    def identifier(self) -> str | None:
        """The key identifier a token may name it by: the certificate's SubjectKeyIdentifier,
        or, when it has none, the one computed from the key."""
        return self.key_identifier or self.computed_key_identifier


def read_ade_token(data: bytes) -> AdeTokenFile:
    """The facts of a server token file; raise ``TokenFileError`` (never anything else)."""
    bounded(data)
    stripped = data.removeprefix(b"\xef\xbb\xbf").strip()
    if not stripped:
        raise refuse("not_an_ade_token", "empty")
    smime = False
    if stripped[:1] == b"\x30":  # binary DER/BER: a last byte such as 0x0A or 0x20 is content
        blob, content = data.removeprefix(b"\xef\xbb\xbf").lstrip(), None
    elif match := _PEM_CMS.search(stripped):
        blob, content = _b64(match.group(2)), None
    elif HEADER_LINE.match(stripped):
        blob, smime = _from_smime(stripped), True
        try:
            content = stripped.decode("ascii")  # sent to Intune exactly as Apple wrote it
        except UnicodeDecodeError:
            raise refuse("not_an_ade_token", "wrong_mime") from None
    elif _BASE64.fullmatch(stripped):
        blob, content = _b64(stripped), None
    else:
        raise refuse("not_an_ade_token")
    if der.shape(blob) in {"pkcs12", "private_key"}:
        raise refuse("private_key_present")
    recipients, algorithm = _envelope(blob)
    if content is None:  # re-wrapped the way Apple delivers it: what Intune's own upload takes
        lines = base64.encodebytes(blob).decode("ascii").replace("\n", "\r\n")
        content = APPLE_SMIME_HEADERS + "\r\n" + lines
    return AdeTokenFile(
        recipients=recipients,
        content_encryption=algorithm,
        smime=smime,
        sha256=hashlib.sha256(blob).hexdigest(),
        content=content,
    )


def _b64(body: bytes) -> bytes:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("not_an_ade_token", "damaged") from None


def _from_smime(text: bytes) -> bytes:
    parts = _BLANK_LINE.split(text, maxsplit=1)
    if len(parts) != 2:
        raise refuse("not_an_ade_token", "damaged")
    head, body = parts
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
    declared = headers.get("Content-Type")
    if declared is not None:
        kind = headers.get_content_type().lower()
        smime_type = str(headers.get_param("smime-type", "enveloped-data") or "").lower()
        if kind not in SMIME_TYPES or smime_type != "enveloped-data":
            raise refuse("not_an_ade_token", "wrong_mime")
    encoding = str(headers.get("Content-Transfer-Encoding", "base64")).strip().lower()
    if encoding != "base64":
        raise refuse("not_an_ade_token", "wrong_mime")
    if not _BASE64.fullmatch(body.strip() or b"-"):
        raise refuse("not_an_ade_token", "damaged")
    return _b64(body)


def _envelope(blob: bytes) -> tuple[tuple[Recipient, ...], str | None]:
    """The recipients and content cipher of a CMS ``EnvelopedData`` (asn1crypto reads it)."""
    try:
        info = asn1_cms.ContentInfo.load(blob)
        content_type = info["content_type"].native
        if content_type != "enveloped_data":
            reason = "not_enveloped" if isinstance(content_type, str) else "damaged"
            raise refuse("not_an_ade_token", reason)
        envelope = info["content"]
        recipients = tuple(_recipient(r) for r in envelope["recipient_infos"])
        encrypted = envelope["encrypted_content_info"]
        algorithm = encrypted["content_encryption_algorithm"]["algorithm"].native
    except TokenFileError:
        raise
    # asn1crypto parses lazily and reports malformed input with ValueError, TypeError, KeyError...:
    # at this boundary each means "a damaged token", and none may escape as another type.
    except Exception:  # noqa: BLE001
        raise refuse("not_an_ade_token", "damaged") from None
    if not recipients:
        raise refuse("not_an_ade_token", "damaged")
    return recipients, str(algorithm) if algorithm else None


def _recipient(info: object) -> Recipient:
    chosen = getattr(info, "chosen", None)
    name = str(getattr(info, "name", "unknown"))
    if name != "ktri" or chosen is None:
        return Recipient(name, None, None, None, None)
    rid = chosen["rid"]
    algorithm = chosen["key_encryption_algorithm"]["algorithm"].native
    if rid.name == "issuer_and_serial_number":
        issuer = rid.chosen["issuer"]
        return Recipient(
            kind="issuer_and_serial",
            issuer=name_text(issuer),
            serial=_hex(int(rid.chosen["serial_number"].native)),
            key_identifier=None,
            key_encryption=str(algorithm),
            issuer_der=issuer.dump(),
        )
    return Recipient(
        kind="key_identifier",
        issuer=None,
        serial=None,
        key_identifier=bytes(rid.chosen.native).hex().upper(),
        key_encryption=str(algorithm),
    )


_SHORT_NAMES = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "email_address": "emailAddress",
}


def name_text(name: object) -> str:
    """An X.500 name as ``CN=..., O=...`` (most specific first, like RFC 4514)."""
    native = getattr(name, "native", None)
    if not isinstance(native, dict):
        return "(unreadable name)"
    parts = [f"{_SHORT_NAMES.get(str(k), str(k))}={v}" for k, v in native.items()]
    return ", ".join(reversed(parts)) or "(empty name)"


def _hex(serial: int) -> str:
    return f"{serial:016X}" if serial >= 0 else "-" + f"{-serial:016X}"


def read_intune_key(value: str) -> IntuneKey:
    """Intune's public key: a PEM certificate (or the bare base64 of one, or a PEM public key is
    refused: only a certificate names the issuer and serial a token is encrypted to). Raises
    ``TokenFileError("public_key_unreadable", ...)`` when the text is none of these."""
    raw = value.strip().encode("ascii", errors="replace")
    try:
        if b"-----BEGIN CERTIFICATE-----" in raw:
            certificate = x509.load_pem_x509_certificate(raw)
        else:
            certificate = x509.load_der_x509_certificate(
                base64.b64decode(re.sub(rb"\s+", b"", raw), validate=True)
            )
    # cryptography reports malformed certificates with ValueError and more: all mean "unreadable"
    except Exception:  # noqa: BLE001
        raise TokenFileError(
            "public_key_unreadable",
            "Intune's public key for this token could not be read as a certificate, so the token "
            "cannot be matched with it. Download the key again (/apns ade-key) and retry.",
        ) from None
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        key_identifier: str | None = ski.value.digest.hex().upper()
    except (x509.ExtensionNotFound, ValueError):
        key_identifier = None
    try:
        computed = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())
        computed_key_identifier: str | None = computed.digest.hex().upper()
    # a key type cryptography cannot load has no computed identifier: only issuer/serial match
    except Exception:  # noqa: BLE001
        computed_key_identifier = None
    issuer_der = certificate.issuer.public_bytes()
    return IntuneKey(
        subject=certificate.subject.rfc4514_string(),
        issuer=name_text(asn1_x509.Name.load(issuer_der)),
        serial=_hex(certificate.serial_number),
        key_identifier=key_identifier,
        sha256=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
        issuer_der=issuer_der,
        not_after=certificate.not_valid_after_utc.date().isoformat(),
        pem=certificate.public_bytes(Encoding.PEM).decode("ascii"),
        computed_key_identifier=computed_key_identifier,
    )


def encrypted_to(token: AdeTokenFile, key: IntuneKey) -> bool:
    """True when one recipient of ``token`` is ``key``: the same serial and issuer (the same DER
    bytes, else equal as X.500 names, RFC 5280 comparison), or the same subject key identifier
    (computed from the key when Intune's certificate has no SubjectKeyIdentifier)."""
    for recipient in token.recipients:
        if (
            recipient.kind == "issuer_and_serial"
            and recipient.serial == key.serial
            and _same_issuer(recipient.issuer_der, key.issuer_der)
        ):
            return True
        if (
            recipient.kind == "key_identifier"
            and recipient.key_identifier is not None
            and recipient.key_identifier == key.identifier
        ):
            return True
    return False


def _same_issuer(encoded: bytes, other: bytes) -> bool:
    return encoded == other or _same_name(encoded, other)  # bytes first: the usual case


def _same_name(encoded: bytes, other: bytes) -> bool:
    try:
        return bool(asn1_x509.Name.load(encoded) == asn1_x509.Name.load(other))
    # a recipient name asn1crypto cannot read or compare is simply not the key's issuer
    except Exception:  # noqa: BLE001
        return False
