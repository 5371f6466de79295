"""Pre-flight checks for an uploaded push certificate (pure: time and trust are parameters).

``inspect_certificate(data, now=..., apple_id=..., current=..., trust=...)`` parses the upload and
returns an ``Inspection``: the parsed certificate (or ``None`` when the file was refused) and a list
of ``Problem``s, errors first. An ``error`` blocks a renewal; a ``warning`` is shown to approvers.
The codes are public (JSON output, Slack messages) and listed in ``CODES`` with their severity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.core import messages as m
from bot.core.certificate import PUSH_TOPIC_PREFIX, ParsedCertificate, parse_certificate
from bot.core.chain import TrustAnchors, verify_chain
from bot.core.model import TenantCertificate
from bot.errors import CertificateError

Severity = Literal["error", "warning"]

CODES: dict[str, Severity] = {
    # the file itself (raised by the parser as CertificateError)
    "too_large": "error",
    "not_a_certificate": "error",
    "private_key_present": "error",
    "multiple_leaf_certificates": "error",
    # what the certificate is
    "missing_topic": "error",
    "bad_topic_prefix": "error",
    "topic_cn_mismatch": "warning",
    "not_push_certificate": "error",
    "not_apple_issuer": "error",
    "untrusted_chain": "error",
    "chain_not_verified": "warning",
    "weak_key": "error",
    # when it is valid
    "expired": "error",
    "not_yet_valid": "error",
    "expires_soon": "warning",
    # against the tenant's current certificate and the Apple ID of the renewal
    "topic_mismatch": "error",
    "apple_id_mismatch": "error",
    "invalid_apple_id": "error",
    "not_newer": "error",
}

EXPIRES_SOON = timedelta(days=30)  # a renewed certificate has about 365 days
CLOCK_SKEW = timedelta(minutes=10)  # Apple stamps notBefore at issuance; clocks differ a little
MIN_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}
APPLE_ORGANIZATION = "Apple Inc."
_APPLE_ID = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Problem:
    code: str
    severity: Severity
    message: str

    @classmethod
    def of(cls, code: str, message: str) -> Problem:
        return cls(code, CODES[code], message)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def is_blocking(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error (shared by certificate and token inspections)."""
    return any(p.severity == "error" for p in problems)


def errors_in(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings_in(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def codes_in(problems: Iterable[Problem]) -> list[str]:
    return [p.code for p in problems]


@dataclass(frozen=True)
class Inspection:
    """The outcome of a pre-flight: ``blocking`` when any problem is an error.

    ``chain_verified`` is True/False when trust anchors were available, None when not checked.
    """

    certificate: ParsedCertificate | None
    problems: list[Problem] = field(default_factory=list)
    chain_verified: bool | None = None
    chain: tuple[str, ...] = ()  # common names leaf -> root when verified

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
        """The public JSON shape (``apns-bot inspect-cert --json``)."""
        c = self.certificate
        return {
            "topic": c.topic if c else None,
            "common_name": c.common_name if c else None,
            "serial": c.serial if c else None,
            "not_before": _iso(c.not_before) if c else None,
            "not_after": _iso(c.not_after) if c else None,
            "issuer": c.issuer if c else None,
            "issuer_common_name": c.issuer_common_name if c else None,
            "sha256": c.sha256 if c else None,
            "key_type": c.key_type if c else None,
            "key_size": c.key_size if c else None,
            "apple_push_marker": c.apple_push_marker if c else None,
            "chain_verified": self.chain_verified,
            "chain": list(self.chain),
            "other_certificates": [
                {"subject": o.subject, "issuer": o.issuer, "sha256": o.sha256, "is_ca": o.is_ca}
                for o in (c.others if c else ())
            ],
            "evaluated_at": _iso(evaluated_at) if evaluated_at else None,
            "blocking": self.blocking,
            "problems": [p.as_dict() for p in self.problems],
        }


def inspect_certificate(
    data: bytes,
    *,
    now: datetime,
    apple_id: str | None = None,
    current: TenantCertificate | None = None,
    trust: TrustAnchors | None = None,
) -> Inspection:
    """Parse ``data`` and check it. Never raises for any input bytes.

    ``apple_id`` is the Apple ID the renewal would be sent with (None: not known yet); ``current``
    is what Graph reports about the tenant's certificate (None or not ``exists``: a first upload);
    ``trust`` holds Apple's CA certificates (None: the chain is reported as not verified).
    """
    _require_aware(now)
    try:
        certificate = parse_certificate(data)
    except CertificateError as exc:
        return Inspection(certificate=None, problems=[Problem.of(exc.code, exc.user_message)])
    return check_certificate(certificate, now=now, apple_id=apple_id, current=current, trust=trust)


def check_certificate(
    certificate: ParsedCertificate,
    *,
    now: datetime,
    apple_id: str | None = None,
    current: TenantCertificate | None = None,
    trust: TrustAnchors | None = None,
) -> Inspection:
    """Every check on an already parsed certificate; see ``inspect_certificate``."""
    _require_aware(now)
    c = certificate
    problems = [
        *_identity(c),
        *_against_tenant(c, apple_id, current),
        *_issuer_and_key(c),
        *_validity(c, now),
    ]
    chain_verified: bool | None = None
    path: tuple[str, ...] = ()
    if trust is None:
        problems.append(Problem.of("chain_not_verified", m.chain_not_verified()))
    else:
        result = verify_chain(
            c.x509_cert, trust, now=now, untrusted=tuple(o.x509_cert for o in c.others)
        )
        chain_verified, path = result.ok, result.path
        if not result.ok and result.unknown_issuer:
            # Apple may introduce a new intermediate (the current one expires in 2028). Its name
            # proves nothing (anyone can call a CA "Apple"), so this still blocks; the message
            # says how to let the bot verify it: the intermediate in APPLE_CA_DIR or the bundle.
            problems.append(Problem.of("untrusted_chain", m.unknown_intermediate(result.reason)))
        elif not result.ok:
            problems.append(Problem.of("untrusted_chain", m.untrusted_chain(result.reason)))
    problems.sort(key=lambda p: p.severity != "error")  # stable: errors first, order kept
    return Inspection(c, problems, chain_verified, path)


def _identity(c: ParsedCertificate) -> Iterator[Problem]:
    if not c.topic:
        yield Problem.of("missing_topic", m.missing_topic())
    elif not c.topic.startswith(PUSH_TOPIC_PREFIX):
        yield Problem.of("bad_topic_prefix", m.bad_topic_prefix(c.topic))
    elif not _cn_matches_topic(c.common_name, c.topic):
        yield Problem.of("topic_cn_mismatch", m.topic_cn_mismatch(c.topic, c.common_name))
    if not c.apple_push_marker:
        yield Problem.of("not_push_certificate", m.not_push_certificate())


def _cn_matches_topic(common_name: str | None, topic: str) -> bool:
    """Apple's layout: UID=com.apple.mgmt.External.<uuid> with CN=APSP:<uuid>."""
    suffix = topic.rsplit(".", 1)[-1]
    return common_name is not None and common_name.casefold() == f"APSP:{suffix}".casefold()


def _against_tenant(
    c: ParsedCertificate, apple_id: str | None, current: TenantCertificate | None
) -> Iterator[Problem]:
    if apple_id is not None and not _APPLE_ID.match(apple_id.strip()):
        yield Problem.of("invalid_apple_id", m.invalid_apple_id(apple_id))
        apple_id = None  # comparing a malformed Apple ID with the tenant's would only add noise
    if current is None:
        return
    current_topic = (current.topic or "").strip()
    if current_topic and c.topic and c.topic.casefold() != current_topic.casefold():
        yield Problem.of(
            "topic_mismatch", m.topic_mismatch(c.topic, current_topic, current.apple_id)
        )
    current_id = (current.apple_id or "").strip()
    if apple_id and current_id and apple_id.strip().casefold() != current_id.casefold():
        yield Problem.of("apple_id_mismatch", m.apple_id_mismatch(apple_id.strip(), current_id))
    expires_at = current.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # Graph's DateTimeOffset is UTC
    if expires_at is not None and c.not_after <= expires_at:
        same = current.serial is not None and current.serial.strip().upper() == c.serial
        yield Problem.of("not_newer", m.not_newer(c.not_after, expires_at, same))


def _issuer_and_key(c: ParsedCertificate) -> Iterator[Problem]:
    issuer_cn = c.issuer_common_name or ""
    if c.issuer_organization != APPLE_ORGANIZATION or not issuer_cn.startswith("Apple "):
        yield Problem.of("not_apple_issuer", m.not_apple_issuer(issuer_cn or c.issuer))
    minimum = MIN_KEY_BITS.get(c.key_type)
    if c.key_type == "unknown" or (minimum and (c.key_size or 0) < minimum):
        yield Problem.of("weak_key", m.weak_key(c.key_type, c.key_size))


def _validity(c: ParsedCertificate, now: datetime) -> Iterator[Problem]:
    if now >= c.not_after:
        yield Problem.of("expired", m.expired(c.not_after, now))
    elif now + CLOCK_SKEW < c.not_before:
        yield Problem.of("not_yet_valid", m.not_yet_valid(c.not_before))
    elif c.not_after - now < EXPIRES_SOON:
        yield Problem.of("expires_soon", m.expires_soon(c.not_after, now))


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (tzinfo set, e.g. UTC)")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
