"""Chain verification: does a push certificate descend from Apple's root? (pure; time is a parameter)

The trust anchors arrive as values (``TrustAnchors``), so the core never reads files or the
network. ``verify_chain`` walks leaf -> intermediate(s) -> root, checking at each step that the
issuer's name matches, that the signature verifies (``verify_directly_issued_by``), that every
certificate authority on the path is a CA and inside its validity window at ``now``. The leaf's own
validity is reported by the checks (``expired``/``not_yet_valid``), not here.

Intermediates found in the uploaded bundle may complete a path, but only a configured root ends one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import NameOID

from bot.core.certificate import is_ca, name_attribute

MAX_CHAIN_LENGTH = 5  # leaf + up to three intermediates + root


@dataclass(frozen=True)
class TrustAnchors:
    """The certificate authorities a push certificate must chain to.

    ``roots`` end a path (trusted as configured); ``intermediates`` may sit between the leaf and a
    root. ``source`` says where they came from, for messages (e.g. ``APPLE_CA_DIR=/etc/apple-ca``).
    """

    intermediates: tuple[x509.Certificate, ...]
    roots: tuple[x509.Certificate, ...]
    source: str = "configured"

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("TrustAnchors needs at least one root certificate")


@dataclass(frozen=True)
class ChainResult:
    """``ok`` with the path's common names (leaf first), or not ``ok`` with a readable ``reason``."""

    ok: bool
    reason: str = ""
    path: tuple[str, ...] = field(default=())
    # no trusted or bundled certificate is even named like the leaf's issuer: the chain could not
    # be followed, as opposed to a signature that failed (e.g. a new Apple intermediate)
    unknown_issuer: bool = False


class _Failures:
    """Keeps the most telling reason a path failed (a bad signature beats an unknown issuer)."""

    def __init__(self) -> None:
        self.reasons: list[tuple[int, str]] = []

    def add(self, rank: int, reason: str) -> None:
        self.reasons.append((rank, reason))

    def best(self, fallback: str) -> str:
        return max(self.reasons, key=lambda r: r[0])[1] if self.reasons else fallback


def verify_chain(
    leaf: x509.Certificate,
    trust: TrustAnchors,
    *,
    now: datetime,
    untrusted: tuple[x509.Certificate, ...] = (),
) -> ChainResult:
    """Verify ``leaf`` up to one of ``trust.roots`` at ``now`` (aware datetime)."""
    intermediates = tuple(trust.intermediates) + tuple(c for c in untrusted if c not in trust.roots)
    failures = _Failures()
    path = _walk(leaf, trust.roots, intermediates, now, (leaf,), failures)
    if path is not None:
        return ChainResult(ok=True, path=tuple(_label(c) for c in path))
    issuer = name_attribute(leaf.issuer, NameOID.COMMON_NAME) or leaf.issuer.rfc4514_string()
    fallback = (
        f"it was issued by '{issuer}', which is not one of the trusted Apple certificate "
        f"authorities ({trust.source})"
    )
    known = any(c.subject == leaf.issuer for c in (*trust.roots, *intermediates))
    return ChainResult(ok=False, reason=failures.best(fallback), unknown_issuer=not known)


def _walk(
    cert: x509.Certificate,
    roots: tuple[x509.Certificate, ...],
    intermediates: tuple[x509.Certificate, ...],
    now: datetime,
    path: tuple[x509.Certificate, ...],
    failures: _Failures,
) -> tuple[x509.Certificate, ...] | None:
    for root in roots:
        if _issued_by(cert, root, now, failures):
            return (*path, root)
    if len(path) + 1 >= MAX_CHAIN_LENGTH:
        return None
    for candidate in intermediates:
        if candidate in path or not _issued_by(cert, candidate, now, failures):
            continue
        if not is_ca(candidate):
            failures.add(2, f"'{_label(candidate)}' is not a certificate authority")
            continue
        found = _walk(candidate, roots, intermediates, now, (*path, candidate), failures)
        if found is not None:
            return found
    return None


def _issued_by(
    cert: x509.Certificate, issuer: x509.Certificate, now: datetime, failures: _Failures
) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        failures.add(
            3,
            f"its signature does not verify against '{_label(issuer)}' (the file was altered, or "
            "the certificate was made by someone other than Apple)",
        )
        return False
    if not issuer.not_valid_before_utc <= now <= issuer.not_valid_after_utc:
        failures.add(
            1,
            f"the certificate authority '{_label(issuer)}' is only valid from "
            f"{issuer.not_valid_before_utc:%Y-%m-%d} to {issuer.not_valid_after_utc:%Y-%m-%d}",
        )
        return False
    return True


def _label(cert: x509.Certificate) -> str:
    return name_attribute(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()
