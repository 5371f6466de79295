"""The certificate credential: a PEM file with the app's certificate and its private key.

Read once, checked up front (key present, unencrypted, RSA, matching a certificate, not expired),
so a mistake is one clear sentence rather than an opaque MSAL or Entra failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.adapters.entra.errors import APP_PAGE
from bot.errors import AuthError

KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL
)


@dataclass(frozen=True)
class ClientCertificate:
    """The certificate credential read from ``AZURE_CLIENT_CERTIFICATE_PATH``."""

    certificate_pem: str
    private_key_pem: str = field(repr=False)  # never in a log line
    sha1_thumbprint: str  # upper-case hex, as the Entra admin center lists it
    sha256_thumbprint: str
    not_after: datetime


def load_client_certificate(path: Path, now: datetime | None = None) -> ClientCertificate:
    """Read a PEM holding the app's certificate and its unencrypted RSA private key."""
    where = f"AZURE_CLIENT_CERTIFICATE_PATH={path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuthError(f"Cannot read {where}: {exc.strerror or exc}.") from exc
    how = (
        "It must hold the certificate and its private key in PEM, e.g. `cat cert.pem key.pem > "
        "app.pem`, or from a .pfx: `openssl pkcs12 -in app.pfx -out app.pem -nodes`."
    )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    match = KEY_BLOCK.search(data)
    if not certificates or match is None:
        missing = "certificate" if not certificates else "private key"
        raise AuthError(f"{where} holds no PEM {missing}. {how}")
    try:
        key = serialization.load_pem_private_key(match.group(0), password=None)
    except TypeError as exc:
        raise AuthError(
            f"The private key in {where} is encrypted. Store it unencrypted (`openssl pkey -in "
            "key.pem -out key-plain.pem`) and protect the file with permissions instead."
        ) from exc
    except ValueError as exc:
        raise AuthError(f"The private key in {where} cannot be read. {how}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(
            f"The key in {where} is not RSA: Entra ID signs in apps with RSA keys only."
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    own = key.public_key().public_bytes(*spki)
    certificate = next((c for c in certificates if c.public_key().public_bytes(*spki) == own), None)
    if certificate is None:
        raise AuthError(f"No certificate in {where} matches its private key. {how}")
    sha1 = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - Entra's thumbprint
    not_after = certificate.not_valid_after_utc
    if not_after <= (now or datetime.now(UTC)):
        raise AuthError(
            f"The client certificate in {where} (thumbprint {sha1}) expired on "
            f"{not_after:%Y-%m-%d}. Create a new one and upload its public part under "
            f"{APP_PAGE} → Certificates & secrets → Certificates."
        )
    return ClientCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        sha1_thumbprint=sha1,
        sha256_thumbprint=certificate.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=not_after,
    )
