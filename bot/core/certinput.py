"""What is inside an uploaded certificate file: certificates, or something to refuse (pure, no I/O).

``read_certificates(data)`` turns the bytes a person uploaded into the X.509 certificates they hold,
in file order. It accepts PEM (LF or CRLF, any text around the blocks, UTF-8 or UTF-16), DER, PKCS#7
bundles (``.p7b``) and bare base64. It refuses, with a ``CertificateError``:

- ``too_large``: more than 64 KiB (a push certificate is about 2 KiB);
- ``private_key_present``: a PEM block of any private-key kind, a PuTTY key, a PKCS#12/PFX file
  or a DER private key. Key blocks are recognised by their label or their ASN.1 shape and never
  decoded, so no key material reaches a value, an exception or a log line;
- ``not_a_certificate``: anything else (a CSR, a public key, damaged data...).

Every ``CertificateError`` is raised ``from None`` and its message never quotes the input.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from bot.core import der
from bot.errors import CertificateError

MAX_CERTIFICATE_FILE_BYTES = 64 * 1024
MAX_BUNDLE_CERTIFICATES = 32  # a .p7b holds a leaf and its chain: a few certificates

_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]{1,80})-----", re.IGNORECASE)
_BLOCK = re.compile(rb"-----BEGIN ([^\r\n-]{1,80})-----(.*?)-----END \1-----", re.DOTALL)
_KEY_LABEL = re.compile(rb"PRIVATE|PKCS ?12|PFX", re.IGNORECASE)
_PUTTY_KEY = re.compile(rb"PuTTY-User-Key-File-\d", re.IGNORECASE)
_BARE_BASE64 = re.compile(rb"[A-Za-z0-9+/=\s]{64,}")
_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}
_PKCS7_LABELS = {b"PKCS7", b"PKCS #7 SIGNED DATA", b"CMS"}
_CSR_LABELS = {b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"}
_PUBLIC_KEY_LABELS = {b"PUBLIC KEY", b"RSA PUBLIC KEY"}

_GET_CERT = (
    "Download the certificate again from Apple's Push Certificates Portal (identity.apple.com) "
    "and upload that .pem file unchanged."
)
MESSAGES = {
    "too_large": (
        f"This file is larger than {MAX_CERTIFICATE_FILE_BYTES // 1024} KiB, while a push "
        "certificate is about 2 KiB: it is not the certificate Apple delivers. " + _GET_CERT
    ),
    "empty": "The file is empty. " + _GET_CERT,
    "not_a_certificate": (
        "This file is not a certificate apns-bot can read: it expected the .pem file from Apple "
        "(or a DER .cer). " + _GET_CERT
    ),
    "damaged": "The certificate in this file is damaged or incomplete. " + _GET_CERT,
    "csr": (
        "This is a certificate signing request (CSR), not a certificate. Upload the CSR at "
        "identity.apple.com (press Renew next to the tenant's certificate), then upload the .pem "
        "file Apple gives back."
    ),
    "public_key": "This file holds only a public key, not a certificate. " + _GET_CERT,
    "private_key_present": (
        "This file contains a private key (or is a .p12/.pfx key container), so apns-bot refused "
        "it without reading it. Intune keeps its own key: upload only the certificate (.pem) "
        "downloaded from Apple's Push Certificates Portal, never a .p12/.pfx or a file with a "
        "key. Treat this file as a secret and delete it wherever it was shared (Slack messages, "
        "tickets, e-mail)."
    ),
}


def refuse(code: str, reason: str | None = None) -> CertificateError:
    """The ``CertificateError`` for ``code``; ``reason`` picks a more specific message."""
    return CertificateError(code, MESSAGES[reason or code])


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates in ``data`` (file order, duplicates kept); raise ``CertificateError``."""
    if len(data) > MAX_CERTIFICATE_FILE_BYTES:
        raise refuse("too_large")
    if not data.strip():
        raise refuse("not_a_certificate", "empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = _from_utf16(data)
    if holds_private_key(data):
        raise refuse("private_key_present")
    if _BEGIN.search(data):
        return _from_pem(data)
    stripped = data.strip()
    if _BARE_BASE64.fullmatch(stripped):
        return _from_der(_b64decode(stripped))
    return _from_der(data)


def holds_private_key(data: bytes) -> bool:
    """True when ``data`` has a PEM block of a private-key kind or a PuTTY key (text forms only;
    a DER key or a PKCS#12 file is told by ``der.shape``). Nothing is decoded."""
    return bool(_PUTTY_KEY.search(data)) or any(
        _KEY_LABEL.search(label) for label in _BEGIN.findall(data)
    )


def _from_utf16(data: bytes) -> bytes:
    try:
        return data.decode("utf-16").encode("ascii", errors="replace")
    except UnicodeDecodeError:
        raise refuse("not_a_certificate") from None


def _b64decode(body: bytes) -> bytes:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("not_a_certificate", "damaged") from None


def _from_pem(data: bytes) -> list[x509.Certificate]:
    certificates: list[x509.Certificate] = []
    seen: set[bytes] = set()
    for match in _BLOCK.finditer(data):
        label = match.group(1).upper()
        seen.add(label)
        if label in _CERT_LABELS:
            body = _b64decode(match.group(2))
            if label == b"TRUSTED CERTIFICATE":  # OpenSSL appends trust settings after the cert
                head = der.element(body, 0)
                body = body[: head.end] if head is not None and head.end else body
            certificates.append(_load_der_certificate(body))
        elif label in _PKCS7_LABELS:
            certificates.extend(_load_pkcs7(_b64decode(match.group(2))))
    if certificates:
        return certificates
    if seen & _CSR_LABELS:
        raise refuse("not_a_certificate", "csr")
    if seen & _PUBLIC_KEY_LABELS:
        raise refuse("not_a_certificate", "public_key")
    raise refuse("not_a_certificate", "damaged" if b"CERTIFICATE" in data.upper() else None)


def _from_der(data: bytes) -> list[x509.Certificate]:
    kind = der.shape(data)
    if kind in {"pkcs12", "private_key"}:
        raise refuse("private_key_present")
    if kind == "pkcs7":
        return _load_pkcs7(data)
    return [_load_der_certificate(data)]


def _load_der_certificate(data: bytes) -> x509.Certificate:
    reason = "damaged" if data[:1] == b"\x30" else None
    if not der.serial_is_positive(data):  # cryptography would warn now and refuse later
        raise refuse("not_a_certificate", reason)
    try:
        return x509.load_der_x509_certificate(data)
    # cryptography reports malformed DER as ValueError, InvalidVersion and more: at this boundary
    # each means "not a certificate we can read", and none may escape as another type.
    except Exception:  # noqa: BLE001
        raise refuse("not_a_certificate", reason) from None


def _load_pkcs7(data: bytes) -> list[x509.Certificate]:
    """The certificates of a ``.p7b`` (cryptography's PKCS#7 loader), each checked like a lone DER
    certificate."""
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(data)
    # malformed bundles raise ValueError, and a bundle without certificates says so in one: at this
    # boundary each means "not a bundle we can read", and none may escape as another type.
    except Exception as exc:  # noqa: BLE001
        empty = isinstance(exc, ValueError) and "no certificate" in str(exc).lower()
        raise refuse("not_a_certificate", None if empty else "damaged") from None
    if not certificates:
        raise refuse("not_a_certificate")
    return [
        _load_der_certificate(certificate.public_bytes(Encoding.DER))
        for certificate in certificates[:MAX_BUNDLE_CERTIFICATES]
    ]
