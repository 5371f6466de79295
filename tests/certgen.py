"""Generated Apple-like push certificates for tests (renewal flow, fake Graph, pre-flight checks).

The shapes follow the real thing (``../shared/DOMAIN.md`` section 2): an "Apple Root CA"-like root
-> "Apple Application Integration 2 Certification Authority"-like intermediate -> a push leaf with
``UID=com.apple.mgmt.External.<uuid>, CN=APSP:<uuid>, C=US``, EKU clientAuth, KeyUsage
digitalSignature and Apple's push marker extension, RSA 2048 signed with SHA-256.

    from tests.certgen import apple_ca, ca_dir, make_push_cert

    good = make_push_cert()                                  # valid at T0, issued by apple_ca()
    good.pem, good.der, good.topic, good.serial               # bytes, bytes, str, "0123ABCD..."
    make_push_cert(topic_uuid=good.uuid, not_after=...)       # a renewal of the same topic
    make_push_cert(issuer="self")                             # self-signed
    make_push_cert(issuer=other_ca())                         # issued by a non-Apple CA
    make_push_cert(issuer=forged_apple_ca())                  # Apple's names, someone else's keys
    make_push_cert(topic=None) / (common_name="APSP:other") / (marker=False) / (key=rsa_key(bits=1024))
    good.pem_crlf, good.with_key(), good.pkcs12(), bundle(good.pem, apple_ca().intermediate.pem)
    ca_dir(tmp_path)                                          # APPLE_CA_DIR holding the test CA
    @needs_apple_fixtures + APPLE_FIXTURES / REAL_PUSH_CERT   # the real certificate, when present

RSA keys are slow to make, so they come from a small per-process cache (``rsa_key(slot, bits)``);
the CAs are built once per process. Times default to the suite's anchor ``T0`` (``tests/clock.py``),
so certificates are valid "now" wherever a test takes now from ``T0``.
"""

from __future__ import annotations

import base64
import functools
import secrets
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.core.chain import TrustAnchors
from tests.clock import T0

# The real certificate and Apple's CA files (read-only, never copied into the repo); tests using
# them skip only when this folder is absent.
APPLE_FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "apple"
REAL_PUSH_CERT = "push-cert-2021.pem"
REAL_CA_FILES = ("AppleAAI2CA.cer", "AppleIncRootCertificate.cer")
needs_apple_fixtures = pytest.mark.skipif(
    not APPLE_FIXTURES.exists(), reason=f"{APPLE_FIXTURES} is absent"
)

PUSH_MARKER_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.3.2")
TOPIC_PREFIX = "com.apple.mgmt.External."
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


APPLE_ROOT_NAME = _name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.ORGANIZATION_NAME, "Apple Inc."),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Apple Certification Authority"),
    (NameOID.COMMON_NAME, "Apple Root CA"),
)
APPLE_AAI2_NAME = _name(
    (NameOID.COMMON_NAME, "Apple Application Integration 2 Certification Authority"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Apple Certification Authority"),
    (NameOID.ORGANIZATION_NAME, "Apple Inc."),
    (NameOID.COUNTRY_NAME, "US"),
)


@functools.cache
def rsa_key(slot: int = 0, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A cached RSA key: the same (slot, bits) gives the same key for the whole test process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(slot: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class GeneratedCert:
    """A generated certificate with its private key and handy encodings."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem_crlf(self) -> bytes:
        return self.pem.replace(b"\n", b"\r\n")

    @property
    def topic(self) -> str | None:
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.USER_ID)
        return str(attrs[0].value) if attrs else None

    @property
    def uuid(self) -> str | None:
        return self.topic.rsplit(".", 1)[-1] if self.topic else None

    @property
    def serial(self) -> str:
        return f"{self.cert.serial_number:016X}"

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc

    def key_pem(
        self, kind: Literal["pkcs8", "traditional", "encrypted", "openssh"] = "pkcs8"
    ) -> bytes:
        """The private key as PEM: PRIVATE KEY, RSA/EC PRIVATE KEY, ENCRYPTED..., OPENSSH..."""
        formats = {
            "pkcs8": serialization.PrivateFormat.PKCS8,
            "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
            "encrypted": serialization.PrivateFormat.PKCS8,
            "openssh": serialization.PrivateFormat.OpenSSH,
        }
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(b"secret")
            if kind == "encrypted"
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(serialization.Encoding.PEM, formats[kind], encryption)

    def key_der(self, kind: Literal["pkcs8", "traditional"] = "pkcs8") -> bytes:
        fmt = (
            serialization.PrivateFormat.PKCS8
            if kind == "pkcs8"
            else serialization.PrivateFormat.TraditionalOpenSSL
        )
        return self.key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())

    def with_key(self, kind: Literal["pkcs8", "traditional", "encrypted"] = "pkcs8") -> bytes:
        """The certificate PEM followed by its private key (what must be refused)."""
        return self.pem + self.key_pem(kind)

    def pkcs12(
        self, password: bytes | None = None, *, chain: tuple[GeneratedCert, ...] = ()
    ) -> bytes:
        """A .p12/.pfx (DER) holding this certificate and its key."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password)
            if password
            else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(
            b"push", self.key, self.cert, [c.cert for c in chain] or None, encryption
        )


@dataclass(frozen=True)
class CertAuthority:
    """A root and the intermediate it signed; ``trust_anchors()`` is what the checks take."""

    root: GeneratedCert
    intermediate: GeneratedCert

    def trust_anchors(self) -> TrustAnchors:
        return TrustAnchors(
            intermediates=(self.intermediate.cert,), roots=(self.root.cert,), source="test CA"
        )


def _ca_cert(
    subject: x509.Name,
    key: PrivateKey,
    issuer: GeneratedCert | None,
    not_before: datetime,
    not_after: datetime,
) -> GeneratedCert:
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return GeneratedCert(builder.sign(signer_key, hashes.SHA256()), key)


def make_ca(
    root_name: x509.Name = APPLE_ROOT_NAME,
    intermediate_name: x509.Name = APPLE_AAI2_NAME,
    *,
    key_slots: tuple[int, int] = (0, 1),
    not_before: datetime | None = None,
    intermediate_not_after: datetime | None = None,
) -> CertAuthority:
    """A fresh root -> intermediate pair (keys from the cache). Prefer the cached helpers below."""
    now = T0
    start = not_before or now - timedelta(days=3650)
    root = _ca_cert(root_name, rsa_key(key_slots[0]), None, start, now + timedelta(days=3650))
    end = intermediate_not_after or now + timedelta(days=1825)
    intermediate = _ca_cert(intermediate_name, rsa_key(key_slots[1]), root, start, end)
    return CertAuthority(root, intermediate)


@functools.cache
def apple_ca() -> CertAuthority:
    """The Apple-like CA every test shares (what ``ca_dir`` writes for APPLE_CA_DIR)."""
    return make_ca()


@functools.cache
def other_ca() -> CertAuthority:
    """A CA that is not Apple's (issuer ``Example Issuing CA``, ``Example Corp``)."""
    return make_ca(
        _name((NameOID.ORGANIZATION_NAME, "Example Corp"), (NameOID.COMMON_NAME, "Example Root")),
        _name(
            (NameOID.ORGANIZATION_NAME, "Example Corp"),
            (NameOID.COMMON_NAME, "Example Issuing CA"),
        ),
        key_slots=(3, 4),
    )


@functools.cache
def forged_apple_ca() -> CertAuthority:
    """Apple's CA names on someone else's keys: only the signature check can tell."""
    return make_ca(key_slots=(5, 6))


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()


def make_push_cert(
    *,
    topic_uuid: str | None = None,
    topic: str | _Auto | None = AUTO,
    common_name: str | _Auto | None = AUTO,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    issuer: CertAuthority | Literal["self"] | None = None,
    marker: bool = True,
    key: PrivateKey | None = None,
    serial: int | None = None,
) -> GeneratedCert:
    """A push certificate; every keyword makes one variant.

    - ``topic_uuid``: the uuid in UID and CN (random by default; pass an existing cert's ``uuid``
      to make its renewal);
    - ``topic`` / ``common_name``: override the UID / CN verbatim, ``None`` leaves it out;
    - ``not_before`` (default T0 - 1 day) / ``not_after`` (default not_before + 365 days);
    - ``issuer``: ``apple_ca()`` by default, another ``CertAuthority``, or ``"self"``;
    - ``marker=False`` drops the Apple push extension; ``key`` (default ``rsa_key(2)``) e.g.
      ``rsa_key(bits=1024)`` or ``ec_key()``; ``serial`` (default random 64-bit).
    """
    uid = topic_uuid or str(uuid_module.uuid4())
    topic_value = f"{TOPIC_PREFIX}{uid}" if isinstance(topic, _Auto) else topic
    cn_value = f"APSP:{uid}" if isinstance(common_name, _Auto) else common_name
    pairs = [(NameOID.USER_ID, topic_value), (NameOID.COMMON_NAME, cn_value)]
    subject = _name(*((oid, v) for oid, v in pairs if v is not None), (NameOID.COUNTRY_NAME, "US"))
    start = not_before or T0 - timedelta(days=1)
    end = not_after or start + timedelta(days=365)
    leaf_key = key or rsa_key(2)
    ca = apple_ca() if issuer is None else issuer
    signer = None if ca == "self" else ca.intermediate
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if signer is None else signer.cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(serial if serial is not None else secrets.randbits(64) | 1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_key_usage(cert_sign=False), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
    )
    if signer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.key.public_key()),
            critical=False,
        )
    if marker:
        marker_value = x509.UnrecognizedExtension(PUSH_MARKER_OID, b"\x05\x00")
        builder = builder.add_extension(marker_value, critical=False)
    signing_key = leaf_key if signer is None else signer.key
    cert = builder.sign(signing_key, hashes.SHA256())
    return GeneratedCert(cert, leaf_key)


def bundle(*parts: bytes, commentary: bool = True) -> bytes:
    """Concatenate PEM parts, with OpenSSL-style text around them unless ``commentary=False``."""
    chunks = []
    for index, part in enumerate(parts):
        if commentary:
            chunks.append(f"Bag Attributes\n    friendlyName: part {index}\nsubject=...\n".encode())
        chunks.append(part if part.endswith(b"\n") else part + b"\n")
    return b"".join(chunks)


def pkcs7_bundle(*certs: GeneratedCert, pem: bool = False) -> bytes:
    """A .p7b holding ``certs`` (DER, or PEM ``-----BEGIN PKCS7-----``)."""
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    return pkcs7.serialize_certificates([c.cert for c in certs], encoding)


def bare_base64(data: bytes) -> bytes:
    """``data`` as base64 text without PEM header/footer (76-column lines)."""
    return base64.encodebytes(data)


def ca_dir(
    path: Path, ca: CertAuthority | None = None, *, fmt: Literal["der", "pem"] = "der"
) -> Path:
    """Write ``ca``'s root and intermediate (default ``apple_ca()``) into ``path``; return it.

    File names follow Apple's (``AppleAAI2CA.cer``, ``AppleIncRootCertificate.cer``; ``.pem``
    with ``fmt="pem"``). Point ``APPLE_CA_DIR`` at the result.
    """
    authority = ca or apple_ca()
    path.mkdir(parents=True, exist_ok=True)
    suffix = ".cer" if fmt == "der" else ".pem"
    for name, generated in (
        ("AppleAAI2CA", authority.intermediate),
        ("AppleIncRootCertificate", authority.root),
    ):
        (path / f"{name}{suffix}").write_bytes(generated.der if fmt == "der" else generated.pem)
    return path
