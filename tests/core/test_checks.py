"""Pre-flight checks: one table row per situation, every public code produced and asserted."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from bot.core.certificate import parse_certificate
from bot.core.chain import TrustAnchors, verify_chain
from bot.core.checks import CODES, check_certificate, inspect_certificate
from bot.core.model import TenantCertificate
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_CA_FILES,
    REAL_PUSH_CERT,
    CertAuthority,
    GeneratedCert,
    apple_ca,
    bundle,
    ec_key,
    forged_apple_ca,
    make_ca,
    make_push_cert,
    needs_apple_fixtures,
    other_ca,
    rsa_key,
)
from tests.clock import T0

NOW = T0
DAY = timedelta(days=1)
APPLE_ID = "mdm-admin@example.com"


@functools.cache
def current_cert() -> GeneratedCert:
    """The certificate the tenant has today: expires in 10 days."""
    return make_push_cert(not_before=NOW - 355 * DAY)


@functools.cache
def renewal() -> GeneratedCert:
    """A proper renewal: same topic, valid for a year from now."""
    return make_push_cert(topic_uuid=current_cert().uuid, not_before=NOW - timedelta(minutes=2))


def tenant(**changes: object) -> TenantCertificate:
    values: dict[str, object] = {
        "apple_id": APPLE_ID,
        "topic": current_cert().topic,
        "serial": current_cert().serial,
        "expires_at": current_cert().not_after,
    }
    values.update(changes)
    return TenantCertificate(**values)  # type: ignore[arg-type]


@functools.cache
def expired_intermediate_ca() -> CertAuthority:
    return make_ca(key_slots=(0, 1), intermediate_not_after=NOW - DAY)


def apple_trust() -> TrustAnchors | None:
    return apple_ca().trust_anchors()


def roots_only() -> TrustAnchors | None:
    return TrustAnchors(intermediates=(), roots=(apple_ca().root.cert,))


def non_ca_in_the_middle() -> bytes:
    """A leaf signed by an end-entity certificate that Apple's intermediate did issue."""
    impostor = make_push_cert(topic=None, common_name="Not a CA", marker=False, key=rsa_key(7))
    leaf = make_push_cert(issuer=CertAuthority(apple_ca().root, impostor))
    return bundle(leaf.pem, impostor.pem)


@dataclass(frozen=True)
class Row:
    data: Callable[[], bytes]
    expected: frozenset[str]
    apple_id: str | None = APPLE_ID
    current: Callable[[], TenantCertificate | None] = tenant
    trust: Callable[[], TrustAnchors | None] = apple_trust
    now: datetime = NOW


def row(data: Callable[[], bytes], *codes: str, **options: object) -> Row:
    return Row(data, frozenset(codes), **options)  # type: ignore[arg-type]


ROWS: dict[str, Row] = {
    # the happy paths
    "renewal of the same topic": row(lambda: renewal().pem),
    "renewal as DER with the chain": row(
        lambda: bundle(renewal().pem_crlf, apple_ca().intermediate.pem)
    ),
    "first upload (no current certificate)": row(
        lambda: make_push_cert().pem, current=lambda: None
    ),
    "tenant that never had one": row(
        lambda: make_push_cert().pem,
        current=lambda: TenantCertificate(None, None, None, None),
    ),
    "Apple ID not known yet": row(lambda: renewal().pem, apple_id=None),
    "topic reported in another case": row(
        lambda: renewal().pem, current=lambda: tenant(topic=(current_cert().topic or "").upper())
    ),
    "Apple ID in another case": row(lambda: renewal().pem, apple_id=APPLE_ID.upper()),
    "CN in another case": row(
        lambda: (
            make_push_cert(
                topic_uuid="abc-1", common_name="apsp:ABC-1", not_after=NOW + 400 * DAY
            ).pem
        ),
        current=lambda: None,
    ),
    "EC P-256 key": row(lambda: make_push_cert(key=ec_key()).pem, current=lambda: None),
    "a few minutes ahead of our clock": row(
        lambda: (
            make_push_cert(
                topic_uuid=current_cert().uuid, not_before=NOW + timedelta(minutes=5)
            ).pem
        )
    ),
    "intermediate supplied in the bundle": row(
        lambda: bundle(renewal().pem, apple_ca().intermediate.pem), trust=roots_only
    ),
    # the file
    "too large": row(lambda: b"-" * 70_000, "too_large"),
    "not a certificate": row(lambda: b"<html>Sign in</html>", "not_a_certificate"),
    "private key inside": row(lambda: renewal().with_key(), "private_key_present"),
    ".p12": row(lambda: renewal().pkcs12(b"pw"), "private_key_present"),
    "two push certificates": row(
        lambda: bundle(renewal().pem, make_push_cert().pem), "multiple_leaf_certificates"
    ),
    # what the certificate is
    "no topic": row(lambda: make_push_cert(topic=None).pem, "missing_topic", current=lambda: None),
    "not an MDM topic": row(
        lambda: make_push_cert(topic="com.example.app.voip").pem,
        "bad_topic_prefix",
        current=lambda: None,
    ),
    "CN of another uuid": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, common_name="APSP:other").pem,
        "topic_cn_mismatch",
    ),
    "no CN": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, common_name=None).pem,
        "topic_cn_mismatch",
    ),
    "no Apple push marker": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, marker=False).pem,
        "not_push_certificate",
    ),
    "weak RSA key": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, key=rsa_key(bits=1024)).pem,
        "weak_key",
    ),
    # who issued it
    "issued by another CA": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, issuer=other_ca()).pem,
        "not_apple_issuer",
        "untrusted_chain",
    ),
    "issued by another CA that is trusted": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, issuer=other_ca()).pem,
        "not_apple_issuer",
        trust=lambda: other_ca().trust_anchors(),
    ),
    "Apple's names on forged keys": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, issuer=forged_apple_ca()).pem,
        "untrusted_chain",
    ),
    "self-signed": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, issuer="self").pem,
        "not_apple_issuer",
        "untrusted_chain",
    ),
    "self-signed, CAs unavailable": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, issuer="self").pem,
        "not_apple_issuer",
        "chain_not_verified",
        trust=lambda: None,
    ),
    "CAs unavailable": row(lambda: renewal().pem, "chain_not_verified", trust=lambda: None),
    # an intermediate the bot does not hold: blocked, with the way out in the message
    "intermediate missing": row(lambda: renewal().pem, "untrusted_chain", trust=roots_only),
    "intermediate expired": row(
        lambda: (
            make_push_cert(topic_uuid=current_cert().uuid, issuer=expired_intermediate_ca()).pem
        ),
        "untrusted_chain",
        trust=lambda: expired_intermediate_ca().trust_anchors(),
    ),
    "end-entity posing as intermediate": row(
        non_ca_in_the_middle,
        "untrusted_chain",
        "not_apple_issuer",
        current=lambda: None,
        trust=roots_only,
    ),
    # when it is valid
    "expired": row(
        lambda: (
            make_push_cert(
                topic_uuid=current_cert().uuid, not_before=NOW - 400 * DAY, not_after=NOW - 35 * DAY
            ).pem
        ),
        "expired",
        current=lambda: None,
    ),
    "expired one second ago": row(
        lambda: (
            make_push_cert(not_before=NOW - 365 * DAY, not_after=NOW - timedelta(seconds=1)).pem
        ),
        "expired",
        current=lambda: None,
    ),
    "not yet valid": row(
        lambda: make_push_cert(topic_uuid=current_cert().uuid, not_before=NOW + DAY).pem,
        "not_yet_valid",
    ),
    "old download with 20 days left": row(
        lambda: make_push_cert(not_before=NOW - 345 * DAY).pem,
        "expires_soon",
        current=lambda: None,
    ),
    # against the tenant's current certificate
    "created anew (other topic)": row(lambda: make_push_cert().pem, "topic_mismatch"),
    "renewed under another Apple ID": row(
        lambda: renewal().pem, "apple_id_mismatch", apple_id="someone.else@example.com"
    ),
    "Apple ID that is not an e-mail address": row(
        lambda: renewal().pem, "invalid_apple_id", apple_id="MDM Admin"
    ),
    "not an e-mail address on a first upload": row(
        lambda: renewal().pem, "invalid_apple_id", apple_id="admin@", current=lambda: None
    ),
    "older than the current one": row(
        lambda: renewal().pem,
        "not_newer",
        current=lambda: tenant(expires_at=renewal().not_after + DAY, serial="0000000000000001"),
    ),
    "the current certificate again": row(lambda: current_cert().pem, "not_newer", "expires_soon"),
    "created anew, other Apple ID, expired, self-signed": row(
        lambda: (
            make_push_cert(issuer="self", not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY).pem
        ),
        "topic_mismatch",
        "apple_id_mismatch",
        "not_apple_issuer",
        "untrusted_chain",
        "expired",
        "not_newer",
        apple_id="other@example.com",
    ),
}


@pytest.mark.parametrize("name", ROWS)
def test_row(name: str) -> None:
    r = ROWS[name]
    inspection = inspect_certificate(
        r.data(), now=r.now, apple_id=r.apple_id, current=r.current(), trust=r.trust()
    )
    assert set(inspection.codes) == r.expected
    assert len(inspection.codes) == len(set(inspection.codes))
    for problem in inspection.problems:
        assert problem.severity == CODES[problem.code]
        assert len(problem.message) > 40
    severities = [p.severity for p in inspection.problems]
    assert severities == sorted(severities, key=lambda s: s != "error")  # errors first
    assert inspection.blocking == ("error" in severities)
    parse_level = r.expected & {
        "too_large",
        "not_a_certificate",
        "private_key_present",
        "multiple_leaf_certificates",
    }
    assert (inspection.certificate is None) == bool(parse_level)
    if inspection.certificate is not None:
        assert inspection.chain_verified is (
            None if r.trust() is None else "untrusted_chain" not in r.expected
        )


def test_every_public_code_is_produced_by_a_row() -> None:
    produced = set().union(*(r.expected for r in ROWS.values()))
    assert produced == set(CODES)
    assert set(CODES.values()) == {"error", "warning"}
    assert {c for c, s in CODES.items() if s == "warning"} == {
        "topic_cn_mismatch",
        "chain_not_verified",
        "expires_soon",
    }


def test_topic_mismatch_tells_who_must_press_renew_where() -> None:
    inspection = inspect_certificate(
        make_push_cert().pem, now=NOW, apple_id=APPLE_ID, current=tenant(), trust=apple_trust()
    )
    (problem,) = inspection.problems
    current_topic = current_cert().topic or ""
    assert problem.code == "topic_mismatch" and problem.severity == "error"
    assert current_topic in problem.message and APPLE_ID in problem.message
    assert "re-enrolled" in problem.message and "Renew" in problem.message
    assert "created anew or under another Apple ID" in problem.message


def test_messages_carry_the_specifics() -> None:
    other = inspect_certificate(
        renewal().pem, now=NOW, apple_id="x@example.com", current=tenant(), trust=apple_trust()
    )
    assert APPLE_ID in other.problems[0].message and "x@example.com" in other.problems[0].message
    again = inspect_certificate(current_cert().pem, now=NOW, current=tenant(), trust=None)
    not_newer = next(p for p in again.problems if p.code == "not_newer")
    assert "already has" in not_newer.message
    forged = inspect_certificate(
        make_push_cert(issuer=forged_apple_ca()).pem, now=NOW, trust=apple_trust()
    )
    assert "signature does not verify" in forged.problems[0].message
    expired = inspect_certificate(
        make_push_cert(issuer=expired_intermediate_ca()).pem,
        now=NOW,
        trust=expired_intermediate_ca().trust_anchors(),
    )
    assert "only valid from" in expired.problems[0].message
    impostor = inspect_certificate(non_ca_in_the_middle(), now=NOW, trust=roots_only())
    chain = next(p for p in impostor.problems if p.code == "untrusted_chain")
    assert "'Not a CA' is not a certificate authority" in chain.message
    unknown = inspect_certificate(
        make_push_cert(issuer=other_ca()).pem, now=NOW, trust=apple_trust()
    )
    chain = next(p for p in unknown.problems if p.code == "untrusted_chain")
    assert "Example Issuing CA" in chain.message and "test CA" in chain.message


def test_warnings_alone_do_not_block() -> None:
    inspection = inspect_certificate(renewal().pem, now=NOW, current=tenant(), trust=None)
    assert inspection.codes == ["chain_not_verified"]
    assert not inspection.blocking and inspection.warnings and not inspection.errors


def test_check_certificate_matches_inspect_certificate() -> None:
    parsed = parse_certificate(make_push_cert().pem)
    direct = check_certificate(parsed, now=NOW, apple_id=APPLE_ID, current=tenant(), trust=None)
    assert direct.codes == ["topic_mismatch", "chain_not_verified"]
    assert direct.certificate is parsed


def test_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        inspect_certificate(renewal().pem, now=T0.replace(tzinfo=None))


def test_as_dict_is_the_public_json_shape() -> None:
    inspection = inspect_certificate(renewal().pem, now=NOW, current=tenant(), trust=apple_trust())
    shape = inspection.as_dict(evaluated_at=NOW)
    assert json.loads(json.dumps(shape)) == shape
    assert {
        "topic",
        "common_name",
        "serial",
        "not_before",
        "not_after",
        "issuer",
        "sha256",
        "problems",
    } <= set(shape)
    assert shape["topic"] == renewal().topic and shape["serial"] == renewal().serial
    assert shape["not_after"].endswith("Z") and shape["chain_verified"] is True
    assert shape["chain"][-1] == "Apple Root CA" and shape["problems"] == []
    refused = inspect_certificate(b"", now=NOW).as_dict()
    assert refused["topic"] is None and refused["problems"][0]["code"] == "not_a_certificate"
    assert refused["blocking"] is True


def test_trust_anchors_need_a_root() -> None:
    with pytest.raises(ValueError, match="root"):
        TrustAnchors(intermediates=(apple_ca().intermediate.cert,), roots=())


def test_chain_path_and_depth() -> None:
    result = verify_chain(renewal().cert, apple_ca().trust_anchors(), now=NOW)
    assert result.ok and result.path[1:] == (
        "Apple Application Integration 2 Certification Authority",
        "Apple Root CA",
    )
    assert not verify_chain(renewal().cert, other_ca().trust_anchors(), now=NOW).ok


def _real_trust() -> TrustAnchors:
    intermediate, root = (
        x509.load_der_x509_certificate((APPLE_FIXTURES / name).read_bytes())
        for name in REAL_CA_FILES
    )
    return TrustAnchors(intermediates=(intermediate,), roots=(root,), source="fixtures")


@needs_apple_fixtures
def test_real_certificate_is_expired_now() -> None:
    data = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
    inspection = inspect_certificate(data, now=T0, trust=_real_trust())
    assert "expired" in inspection.codes and inspection.blocking
    assert inspection.certificate is not None
    assert inspection.certificate.serial == "734DF9C0BB2703FD"


@needs_apple_fixtures
def test_real_certificate_chain_verifies_inside_its_validity() -> None:
    data = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
    at = datetime(2021, 5, 3, tzinfo=UTC)
    inspection = inspect_certificate(data, now=at, trust=_real_trust())
    assert inspection.problems == [] and inspection.chain_verified is True
    assert inspection.chain[1:] == (
        "Apple Application Integration 2 Certification Authority",
        "Apple Root CA",
    )
    forged = inspect_certificate(data, now=at, trust=apple_ca().trust_anchors())
    assert forged.codes == ["untrusted_chain"]
    renewal_elsewhere = inspect_certificate(
        data,
        now=at,
        apple_id=APPLE_ID,
        current=tenant(expires_at=datetime(2021, 2, 1, tzinfo=UTC)),
        trust=_real_trust(),
    )
    assert renewal_elsewhere.codes == ["topic_mismatch"]


def test_naive_current_expiry_is_taken_as_utc() -> None:
    naive = (renewal().not_after + DAY).replace(tzinfo=None)
    inspection = inspect_certificate(
        renewal().pem, now=NOW, current=tenant(expires_at=naive), trust=apple_trust()
    )
    assert inspection.codes == ["not_newer"]


def test_an_unknown_intermediate_blocks_and_says_how_to_verify_a_new_apple_one() -> None:
    inspection = inspect_certificate(
        renewal().pem, now=NOW, apple_id=APPLE_ID, current=tenant(), trust=roots_only()
    )
    [problem] = [p for p in inspection.problems if p.code == "untrusted_chain"]
    assert "APPLE_CA_DIR" in problem.message and "new" in problem.message
    assert inspection.blocking


def test_a_new_intermediate_uploaded_with_the_leaf_verifies_against_the_root() -> None:
    bundle_pem = renewal().pem + apple_ca().intermediate.pem
    inspection = inspect_certificate(
        bundle_pem, now=NOW, apple_id=APPLE_ID, current=tenant(), trust=roots_only()
    )
    assert "untrusted_chain" not in inspection.codes and inspection.chain_verified is True
