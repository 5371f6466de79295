"""An uploaded Apple push certificate, read into plain facts (pure: no I/O, no clock).

``parse_certificate(data)`` accepts what people upload (see ``bot.core.certinput``), picks the push
certificate as the leaf when the file is a bundle, and returns a frozen ``ParsedCertificate``: the
facts Intune and Graph care about, plus ``pem``, the normalised single-certificate PEM that is the
exact text sent to Graph. Failures are ``CertificateError`` with a public ``code``: ``too_large``,
``not_a_certificate``, ``private_key_present`` or ``multiple_leaf_certificates``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from bot.core.certinput import read_certificates, refuse
from bot.errors import CertificateError

TOPIC_OID = NameOID.USER_ID  # 0.9.2342.19200300.100.1.1, the subject "UID" attribute
APPLE_PUSH_MARKER_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.3.2")  # production APNs
PUSH_TOPIC_PREFIX = "com.apple.mgmt."


@dataclass(frozen=True)
class BundledCertificate:
    """Another certificate found in the same file as the push certificate (usually a CA)."""

    subject: str
    issuer: str
    common_name: str | None
    sha256: str
    is_ca: bool
    x509_cert: x509.Certificate = field(repr=False, compare=False)


@dataclass(frozen=True)
class ParsedCertificate:
    """The facts of one push certificate. Datetimes are aware UTC; names are RFC 4514 strings."""

    topic: str | None  # subject UID, e.g. com.apple.mgmt.External.<uuid>
    common_name: str | None  # subject CN, e.g. APSP:<uuid>
    subject: str
    serial: str  # upper-case hex, zero-padded to 16 digits, as Graph shows it
    not_before: datetime
    not_after: datetime
    issuer: str
    issuer_common_name: str | None
    issuer_organization: str | None
    sha256: str  # colon-separated upper-case hex of the DER
    key_type: str  # RSA, EC, DSA, Ed25519, Ed448, X25519, X448 or unknown
    key_size: int | None
    signature_hash: str | None  # e.g. sha256; None when the algorithm has no separate hash
    apple_push_marker: bool  # extension 1.2.840.113635.100.6.3.2 present
    is_ca: bool
    # "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"; kept out of repr (logs)
    pem: str = field(repr=False)
    x509_cert: x509.Certificate = field(repr=False, compare=False)
    others: tuple[BundledCertificate, ...] = ()  # the rest of a bundle, in file order

    @property
    def der(self) -> bytes:
        return self.x509_cert.public_bytes(Encoding.DER)

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now < self.not_after


def parse_certificate(data: bytes) -> ParsedCertificate:
    """Read ``data`` (PEM, DER, bundle...) into a ``ParsedCertificate``; raise ``CertificateError``."""
    certificates = _unique(read_certificates(data))
    try:
        leaf = _pick_leaf(certificates)
        others = tuple(_bundled(c) for c in certificates if c is not leaf)
        return _parsed(leaf, others)
    except CertificateError:
        raise
    # cryptography parses lazily and reports malformed fields with ValueError, TypeError,
    # UnsupportedAlgorithm, DuplicateExtension, InvalidVersion...: at this boundary every one of
    # them means "a damaged certificate", and none may escape as anything but CertificateError.
    except Exception:  # noqa: BLE001
        raise refuse("not_a_certificate", "damaged") from None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER, as colon-separated upper-case hex."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def format_serial(serial: int) -> str:
    return f"{serial:016X}" if serial >= 0 else "-" + f"{-serial:016X}"


def name_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    for attribute in name.get_attributes_for_oid(oid):
        value = attribute.value
        return value if isinstance(value, str) else value.decode("utf-8", errors="replace")
    return None


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _unique(certificates: list[x509.Certificate]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for certificate in certificates:
        if certificate not in out:
            out.append(certificate)
    return out


def _has_marker(certificate: x509.Certificate) -> bool:
    return any(ext.oid == APPLE_PUSH_MARKER_OID for ext in certificate.extensions)


def _looks_like_push(certificate: x509.Certificate) -> bool:
    topic = name_attribute(certificate.subject, TOPIC_OID) or ""
    return _has_marker(certificate) or topic.startswith(PUSH_TOPIC_PREFIX)


def _pick_leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The push certificate of a bundle: the one end-entity certificate (pushy ones first)."""
    end_entities = [c for c in certificates if not is_ca(c)]
    push = [c for c in end_entities if _looks_like_push(c)]
    for group in (push, end_entities):
        if len(group) == 1:
            return group[0]
        if len(group) > 1:
            raise _multiple(group)
    # Only CA certificates (e.g. Apple's CA files): describe the one that issued nothing else.
    issuers = {c.issuer for c in certificates if c.issuer != c.subject}
    return next((c for c in certificates if c.subject not in issuers), certificates[0])


def _multiple(group: list[x509.Certificate]) -> CertificateError:
    names = [
        name_attribute(c.subject, TOPIC_OID) or name_attribute(c.subject, NameOID.COMMON_NAME)
        for c in group
    ]
    listed = ", ".join(n or "(no name)" for n in names)
    return CertificateError(
        "multiple_leaf_certificates",
        f"This file holds {len(group)} different certificates that could each be the push "
        f"certificate ({listed}), so apns-bot cannot tell which one to send to Intune. Upload a "
        "file holding only the certificate Apple issued for this renewal.",
    )


def _bundled(certificate: x509.Certificate) -> BundledCertificate:
    return BundledCertificate(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        common_name=name_attribute(certificate.subject, NameOID.COMMON_NAME),
        sha256=fingerprint(certificate),
        is_ca=is_ca(certificate),
        x509_cert=certificate,
    )


def _key_facts(certificate: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    sizes: dict[type, tuple[str, int]] = {
        ed25519.Ed25519PublicKey: ("Ed25519", 256),
        ed448.Ed448PublicKey: ("Ed448", 448),
        x25519.X25519PublicKey: ("X25519", 256),
        x448.X448PublicKey: ("X448", 448),
    }
    for kind, (label, size) in sizes.items():
        if isinstance(key, kind):
            return label, size
    return "unknown", None


def _signature_hash(certificate: x509.Certificate) -> str | None:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None
    return algorithm.name if algorithm is not None else None


def _parsed(leaf: x509.Certificate, others: tuple[BundledCertificate, ...]) -> ParsedCertificate:
    key_type, key_size = _key_facts(leaf)
    return ParsedCertificate(
        topic=name_attribute(leaf.subject, TOPIC_OID),
        common_name=name_attribute(leaf.subject, NameOID.COMMON_NAME),
        subject=leaf.subject.rfc4514_string(),
        serial=format_serial(leaf.serial_number),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        issuer=leaf.issuer.rfc4514_string(),
        issuer_common_name=name_attribute(leaf.issuer, NameOID.COMMON_NAME),
        issuer_organization=name_attribute(leaf.issuer, NameOID.ORGANIZATION_NAME),
        sha256=fingerprint(leaf),
        key_type=key_type,
        key_size=key_size,
        signature_hash=_signature_hash(leaf),
        apple_push_marker=_has_marker(leaf),
        is_ca=is_ca(leaf),
        pem=leaf.public_bytes(Encoding.PEM).decode("ascii"),
        x509_cert=leaf,
        others=others,
    )
