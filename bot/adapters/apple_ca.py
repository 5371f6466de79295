"""Apple's certificate authorities, the trust anchors of the chain check.

Two sources, in this order:

1. ``APPLE_CA_DIR`` (``Settings.apple_ca_dir``): every DER or PEM certificate file in the folder,
   trusted as configured, like a CA bundle (no pin check; tests point it at their own CA).
   Self-issued CA certificates are roots, the other CA certificates intermediates.
2. Otherwise Apple's published files, downloaded once over HTTPS (trusting ``Settings.ca_bundle``)
   and accepted only when their SHA-256 fingerprints match the pins below (from DOMAIN.md). They
   are cached in ``<database folder>/apple-ca/`` and the pins are checked again on every load.

When neither works the answer is ``None`` and the reason is logged: the checks then report
``chain_not_verified`` (a warning), never a silent pass. No certificate body reaches a log line.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bot.adapters.tls import ssl_context
from bot.config import Settings
from bot.core.certificate import fingerprint, is_ca
from bot.core.certinput import read_certificates
from bot.core.chain import TrustAnchors
from bot.errors import CertificateError

log = logging.getLogger(__name__)

MAX_CA_FILE_BYTES = 64 * 1024
CACHE_DIR_NAME = "apple-ca"
QUICK_DOWNLOAD_SECONDS = 1.0  # inspect-cert: a quick try, so an offline laptop answers at once


@dataclass(frozen=True)
class PinnedCA:
    """One of Apple's CA files: where to fetch it and the SHA-256 its certificate must have."""

    filename: str
    url: str
    sha256: str  # colon-separated upper-case hex, as ``bot.core.certificate.fingerprint``
    role: Literal["root", "intermediate"]


APPLE_CA_SOURCES: tuple[PinnedCA, ...] = (
    PinnedCA(
        "AppleAAI2CA.cer",
        "https://www.apple.com/certificateauthority/AppleAAI2CA.cer",
        "D3:49:6F:4B:73:CD:67:AA:B9:F2:FC:B1:D5:AA:41:F8:"
        "DC:45:77:69:C4:55:C7:92:B7:0D:DB:19:E9:20:23:D6",
        "intermediate",
    ),
    PinnedCA(
        "AppleIncRootCertificate.cer",
        "https://www.apple.com/appleca/AppleIncRootCertificate.cer",
        "B0:B1:73:0E:CB:C7:FF:45:05:14:2C:49:F1:29:5E:6E:"
        "DA:6B:CA:ED:7E:2C:68:C5:BE:91:B5:A1:10:01:F0:24",
        "root",
    ),
)


def cache_dir(settings: Settings) -> Path:
    return settings.db_path.parent / CACHE_DIR_NAME


def load_trust_anchors(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sources: Sequence[PinnedCA] = APPLE_CA_SOURCES,
    timeout: float | None = None,
    download: bool = True,
) -> TrustAnchors | None:
    """Apple's CAs from ``APPLE_CA_DIR``, else from the pinned cache or a download (unless
    ``download=False``: cache only); None when neither works. A download waits at most
    ``timeout`` seconds for each answer (default ``APNS_NETWORK_TIMEOUT``)."""
    if settings.apple_ca_dir is not None:
        return load_ca_dir(settings.apple_ca_dir)
    return load_pinned(
        cache_dir(settings),
        sources,
        ca_bundle=settings.ca_bundle,
        transport=transport,
        timeout=httpx.Timeout(
            settings.network_timeout if timeout is None else timeout,
            connect=settings.connect_timeout if timeout is None else timeout,
        ),
        download=download,
    )


def load_ca_dir(path: Path) -> TrustAnchors | None:
    """Every CA certificate in ``path`` (DER or PEM, bundles too), trusted as configured."""
    roots: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    try:
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        log.warning("APPLE_CA_DIR=%s cannot be read (%s); chain not verified", path, exc.strerror)
        return None
    for file in files:
        for certificate in _certificates_in(file):
            if certificate.subject == certificate.issuer:
                roots.append(certificate)
            else:
                intermediates.append(certificate)
    if not roots:
        log.warning(
            "APPLE_CA_DIR=%s holds no root certificate (e.g. AppleIncRootCertificate.cer); "
            "chain not verified",
            path,
        )
        return None
    log.debug(
        "trusting %d root(s), %d intermediate(s) from %s", len(roots), len(intermediates), path
    )
    return TrustAnchors(tuple(intermediates), tuple(roots), source=f"APPLE_CA_DIR={path}")


def _certificates_in(file: Path) -> list[x509.Certificate]:
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_CA_FILE_BYTES + 1)
        certificates = read_certificates(data)
        cas = [c for c in certificates if is_ca(c)]
    except OSError as exc:
        log.warning("skipping %s in APPLE_CA_DIR: %s", file.name, exc.strerror)
        return []
    except CertificateError as exc:
        log.info("skipping %s in APPLE_CA_DIR: %s", file.name, exc.code)
        return []
    except (ValueError, x509.DuplicateExtension):
        log.warning("skipping %s in APPLE_CA_DIR: damaged certificate", file.name)
        return []
    if len(cas) < len(certificates):
        log.info("ignoring %d non-CA certificate(s) in %s", len(certificates) - len(cas), file)
    return cas


def load_pinned(
    directory: Path,
    sources: Sequence[PinnedCA] = APPLE_CA_SOURCES,
    *,
    ca_bundle: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = 10.0,
    download: bool = True,
) -> TrustAnchors | None:
    """Each pinned CA from the cache in ``directory`` or downloaded into it; None on any failure."""
    found: dict[str, x509.Certificate] = {}
    client: httpx.Client | None = None
    try:
        for source in sources:
            certificate = _from_cache(directory, source)
            if certificate is None and not download:
                log.warning(
                    "%s is not cached in %s and downloads are off; chain not verified",
                    source.filename,
                    directory,
                )
                return None
            if certificate is None:
                if client is None:
                    client = httpx.Client(
                        transport=transport,
                        verify=ssl_context(ca_bundle),
                        timeout=timeout,
                        follow_redirects=True,
                    )
                certificate = _download(client, source)
                if certificate is None:
                    return None
                _store(directory, source, certificate)
            found[source.filename] = certificate
    finally:
        if client is not None:
            client.close()
    roots = tuple(found[s.filename] for s in sources if s.role == "root")
    intermediates = tuple(found[s.filename] for s in sources if s.role == "intermediate")
    if not roots:
        log.warning("no root among the pinned Apple CA sources; chain not verified")
        return None
    return TrustAnchors(intermediates, roots, source="Apple's published CA files (pinned)")


def _load_one(data: bytes) -> x509.Certificate | None:
    try:
        certificates = read_certificates(data)
    except CertificateError:
        return None
    return certificates[0] if len(certificates) == 1 else None


def _from_cache(directory: Path, source: PinnedCA) -> x509.Certificate | None:
    path = directory / source.filename
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read cached %s (%s); downloading it again", path, exc.strerror)
        return None
    certificate = _load_one(data)
    if certificate is None or fingerprint(certificate) != source.sha256:
        log.warning("cached %s does not match its pinned fingerprint; downloading it again", path)
        return None
    return certificate


def _download(client: httpx.Client, source: PinnedCA) -> x509.Certificate | None:
    try:
        response = client.get(source.url)
    except httpx.HTTPError as exc:
        why = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        log.warning("cannot download %s (%s); chain not verified", source.url, why)
        return None
    if response.status_code != 200 or len(response.content) > MAX_CA_FILE_BYTES:
        log.warning(
            "download of %s answered HTTP %s with %d bytes; chain not verified",
            source.url,
            response.status_code,
            len(response.content),
        )
        return None
    certificate = _load_one(response.content)
    if certificate is None:
        log.warning("%s did not hold one certificate; chain not verified", source.url)
        return None
    actual = fingerprint(certificate)
    if actual != source.sha256:
        log.error(
            "refused %s: its SHA-256 %s does not match the pin %s (tampered download or a "
            "TLS-inspecting proxy?); chain not verified",
            source.url,
            actual,
            source.sha256,
        )
        return None
    log.info("downloaded %s (SHA-256 matches the pin)", source.url)
    return certificate


def _store(directory: Path, source: PinnedCA, certificate: x509.Certificate) -> None:
    """Write the DER atomically; a read-only disk only costs a download next time."""
    temporary: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{source.filename}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(certificate.public_bytes(Encoding.DER))
        os.replace(temporary, directory / source.filename)
    except OSError as exc:
        log.warning("cannot cache %s in %s (%s)", source.filename, directory, exc.strerror)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


class AppleTrustStore:
    """The process's trust anchors: loaded on first use and kept; after a failure, retried at
    most every ``retry_seconds`` so an offline bot does not hit apple.com on every upload."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sources: Sequence[PinnedCA] = APPLE_CA_SOURCES,
        retry_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._sources = tuple(sources)
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._anchors: TrustAnchors | None = None
        self._failed_at: float | None = None

    def get(self) -> TrustAnchors | None:
        with self._lock:
            if self._anchors is not None:
                return self._anchors
            if (
                self._failed_at is not None
                and self._clock() - self._failed_at < self._retry_seconds
            ):
                return None
            anchors = load_trust_anchors(
                self._settings, transport=self._transport, sources=self._sources
            )
            if anchors is None:
                self._failed_at = self._clock()
            self._anchors = anchors
            return anchors
