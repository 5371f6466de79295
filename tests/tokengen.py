"""Generated ADE server tokens and Apps and Books (VPP) tokens, shaped like Apple's, for tests.

    from tests.tokengen import intune_key, ade_token_file, vpp_token_file

    key = intune_key()                      # Intune's key pair for one ADE token (cert + private key)
    ade_token_file(key)                     # Apple's smime.p7m: S/MIME headers + base64 EnvelopedData
    ade_token_file(intune_key(slot=2))      # encrypted to another key (wrong_public_key)
    ade_token_file(key, layout="ber")       # bare base64 of an indefinite-length (BER) CMS
    ade_token_file(key, layout="key_id")    # the recipient named by subject key identifier
    ade_token_file(key, layout="streamed")  # fully streamed BER: every length indefinite, the
                                            # encrypted content in chunks (openssl -stream's shape)
    vpp_token_file("Contoso Ltd", days(365))  # base64 of {"token","expDate","orgName"}

The S/MIME layout is the one Apple Business Manager downloads (``Content-Type:
application/pkcs7-mime; name="smime.p7m"; smime-type=enveloped-data``, base64 body, CRLF), and the
encrypted content is Apple's: a MIME part whose body is ``-----BEGIN MESSAGE-----``, the token JSON
(``consumer_key``... ``access_token_expiry``) and ``-----END MESSAGE-----``. Every date is an
offset from ``T0``.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tests.certgen import rsa_key
from tests.clock import T0

APPLE_HEADERS = (
    'Content-Type: application/pkcs7-mime; name="smime.p7m"; smime-type=enveloped-data\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    'Content-Disposition: attachment; filename="smime.p7m"\r\n'
    "Content-Description: S/MIME Encrypted Message\r\n"
)
KEY_SLOT_BASE = 40  # rsa_key slots of Intune's ADE keys, apart from certgen's own
Layout = Literal[
    "smime", "smime_one_line", "smime_lf", "base64", "pem", "der", "ber", "key_id", "streamed"
]


@dataclass(frozen=True)
class IntuneKey:
    """Intune's key pair for one ADE token: what getEncryptionPublicKey hands out, and the key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def serial(self) -> str:
        return f"{self.cert.serial_number:016X}"


def intune_key(slot: int = 1) -> IntuneKey:
    """A self-signed certificate like the one Intune gives for an ADE token (cached per slot)."""
    return _intune_key(slot)


@functools.cache
def _intune_key(slot: int) -> IntuneKey:
    key = rsa_key(KEY_SLOT_BASE + slot)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"Intune ADE token key {slot}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Microsoft Intune (test)"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 - timedelta(days=30))
        .not_valid_after(T0 + timedelta(days=3650))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IntuneKey(cert, key)


def dep_token_json(expires_at: datetime) -> str:
    """The JSON a server token carries (Apple's field names; the secrets are random)."""
    return json.dumps(
        {
            "consumer_key": "CK_" + secrets.token_hex(32),
            "consumer_secret": "CS_" + secrets.token_hex(20),
            "access_token": "AT_O" + secrets.token_hex(32),
            "access_secret": "AS_" + secrets.token_hex(20),
            "access_token_expiry": expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        separators=(",", ":"),
    )


def inner_message(expires_at: datetime) -> bytes:
    """What the EnvelopedData encrypts: a MIME part around the token JSON, as Apple writes it."""
    return (
        "Content-Type: text/plain;charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        "-----BEGIN MESSAGE-----\r\n" + dep_token_json(expires_at) + "\r\n-----END MESSAGE-----\r\n"
    ).encode("ascii")


def enveloped_der(key: IntuneKey, payload: bytes) -> bytes:
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(payload)
        .add_recipient(key.cert)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def by_key_identifier(der: bytes, key: IntuneKey) -> bytes:
    """``der`` with each recipient named by ``key``'s subject key identifier instead of issuer
    and serial (RFC 5652: ktri version 2, EnvelopedData version 2), re-encoded by asn1crypto."""
    info = asn1_cms.ContentInfo.load(der)
    envelope = info["content"]
    ski = key.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    for recipient in envelope["recipient_infos"]:
        ktri = recipient.chosen
        ktri["rid"] = asn1_cms.RecipientIdentifier({"subject_key_identifier": ski})
        ktri["version"] = "v2"
    envelope["version"] = "v2"
    return bytes(info.dump(force=True))


def streamed(der: bytes, chunk: int = 64) -> bytes:
    """``der`` as a streaming encoder writes it (``openssl cms -encrypt -stream``, and the
    ``MIAGCSqG`` start of Apple's files): ContentInfo, EnvelopedData, EncryptedContentInfo and its
    algorithm with indefinite lengths (ended by ``00 00``), the long ``[0]`` encrypted content as
    a constructed string of ``chunk``-byte OCTET STRINGs, the recipient SET as DER (as openssl
    writes it: asn1crypto cannot read indefinite lengths inside a RecipientInfo)."""
    out, _ = _stream(der, 0, len(der), chunk)
    return out


def _stream(data: bytes, at: int, end: int, chunk: int) -> tuple[bytes, int]:
    out = b""
    while at < end:
        tag, at = data[at], at + 1
        length, at = _length(data, at)
        body = data[at : at + length]
        if tag == 0x31:  # the SET of recipients: kept as DER
            out += bytes([tag]) + _definite(length) + body
        elif tag & 0x20:  # constructed: its children, streamed too
            inner, _ = _stream(data, at, at + length, chunk)
            out += bytes([tag]) + b"\x80" + inner + b"\x00\x00"
        elif tag == 0x80 and length > chunk:  # [0] IMPLICIT encryptedContent: in pieces
            pieces = b"".join(
                b"\x04" + _definite(len(body[i : i + chunk])) + body[i : i + chunk]
                for i in range(0, length, chunk)
            )
            out += b"\xa0\x80" + pieces + b"\x00\x00"
        else:
            out += bytes([tag]) + _definite(length) + body
        at += length
    return out, at


def _length(data: bytes, at: int) -> tuple[int, int]:
    first, at = data[at], at + 1
    if first < 0x80:
        return first, at
    size = first & 0x7F
    return int.from_bytes(data[at : at + size], "big"), at + size


def _definite(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def ade_token_file(
    key: IntuneKey | None = None,
    *,
    expires_at: datetime | None = None,
    layout: Layout = "smime",
) -> bytes:
    """A server token encrypted to ``key`` (default ``intune_key()``), expiring a year after T0."""
    key = key or intune_key()
    der = enveloped_der(key, inner_message(expires_at or T0 + timedelta(days=365)))
    if layout == "key_id":
        return base64.b64encode(by_key_identifier(der, key))
    if layout == "streamed":
        return base64.b64encode(streamed(der))
    if layout == "der":
        return der
    if layout == "ber":  # Apple's own files begin "MIAGCSqG": an indefinite-length outer SEQUENCE
        header = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
        der = b"\x30\x80" + der[header:] + b"\x00\x00"
        return base64.b64encode(der)
    body = base64.b64encode(der).decode("ascii")
    lines = "\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
    if layout == "base64":
        return lines.encode("ascii")
    if layout == "pem":
        return f"-----BEGIN PKCS7-----\n{lines}\n-----END PKCS7-----\n".encode("ascii")
    if layout == "smime_one_line":
        return (APPLE_HEADERS + "\r\n" + body + "\r\n").encode("ascii")
    text = APPLE_HEADERS + "\r\n" + lines + "\r\n"
    return (text.replace("\r\n", "\n") if layout == "smime_lf" else text).encode("ascii")


def vpp_expiry_text(expires_at: datetime) -> str:
    """Apple's ``expDate``: local time with a numeric offset, e.g. ``2027-12-03T01:30:00-0800``."""
    local = expires_at.astimezone(timezone(timedelta(hours=-8)))
    return local.strftime("%Y-%m-%dT%H:%M:%S%z")


def vpp_token_file(
    organization: str = "Contoso Ltd",
    expires_at: datetime | None = None,
    *,
    token: str | None = None,
) -> bytes:
    """A ``.vpptoken``: base64 of ``{"token","expDate","orgName"}`` (one line, as Apple gives)."""
    document = {
        "token": token or base64.b64encode(secrets.token_bytes(96)).decode("ascii"),
        "expDate": vpp_expiry_text(expires_at or T0 + timedelta(days=365)),
        "orgName": organization,
    }
    return base64.b64encode(json.dumps(document).encode("utf-8"))
