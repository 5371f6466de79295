"""Property tests: no input bytes make the parser or the checks raise anything unexpected.

The parser may only raise ``CertificateError``; ``inspect_certificate`` never raises and turns
every refusal into a problem. Inputs: arbitrary bytes, PEM-looking text, and real or generated
certificates truncated or with bits flipped (DER and PEM).
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.certificate import parse_certificate
from bot.core.checks import CODES, inspect_certificate
from bot.core.model import TenantCertificate
from bot.errors import CertificateError
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_PUSH_CERT,
    apple_ca,
    bundle,
    make_push_cert,
    pkcs7_bundle,
)
from tests.clock import T0

NOW = T0
CURRENT = TenantCertificate("a@example.com", "com.apple.mgmt.External.x", "01", NOW)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def samples() -> tuple[bytes, ...]:
    """Valid inputs to mutate: a generated leaf (PEM, DER, bundle) and the real one if present."""
    leaf = make_push_cert()
    out = [
        leaf.pem,
        leaf.der,
        bundle(leaf.pem, apple_ca().intermediate.pem),
        pkcs7_bundle(leaf, apple_ca().intermediate),
        leaf.pkcs12(),
    ]
    real = APPLE_FIXTURES / REAL_PUSH_CERT
    if real.exists():
        out.append(real.read_bytes())
    return tuple(out)


def parse_or_refuse(data: bytes) -> None:
    try:
        parsed = parse_certificate(data)
    except CertificateError as exc:
        assert exc.code in CODES and exc.user_message
        return
    assert parsed.pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert len(parsed.serial) >= 16


def inspect_never_raises(data: bytes) -> None:
    inspection = inspect_certificate(
        data, now=NOW, apple_id="a@example.com", current=CURRENT, trust=apple_ca().trust_anchors()
    )
    assert all(p.code in CODES for p in inspection.problems)
    assert inspection.certificate is not None or inspection.blocking


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_or_refuse(data)
    inspect_never_raises(data)


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                b"-----BEGIN CERTIFICATE-----\n",
                b"-----END CERTIFICATE-----\n",
                b"-----BEGIN PKCS7-----\n",
                b"-----END PKCS7-----\n",
                b"MIIB",
                b"AAAA",
                b"====",
                b"\r\n",
                b"\x30\x82",
                b"junk ",
            ]
        ),
        max_size=30,
    ).map(b"".join)
)
def test_pem_looking_text(data: bytes) -> None:
    parse_or_refuse(data)
    inspect_never_raises(data)


@FAST
@given(st.data())
def test_truncated_certificates(data: st.DataObject) -> None:
    sample = data.draw(st.sampled_from(samples()))
    cut = data.draw(st.integers(min_value=0, max_value=len(sample)))
    parse_or_refuse(sample[:cut])
    inspect_never_raises(sample[:cut])


@FAST
@given(st.data())
def test_bit_flipped_certificates(data: st.DataObject) -> None:
    sample = bytearray(data.draw(st.sampled_from(samples())))
    flips = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(sample) * 8 - 1), min_size=1, max_size=4)
    )
    for bit in flips:
        sample[bit // 8] ^= 1 << (bit % 8)
    parse_or_refuse(bytes(sample))
    inspect_never_raises(bytes(sample))


@FAST
@given(st.data())
def test_spliced_certificates(data: st.DataObject) -> None:
    """Random byte ranges replaced by random bytes: the ASN.1 structure breaks in new places."""
    sample = data.draw(st.sampled_from(samples()))
    start = data.draw(st.integers(min_value=0, max_value=len(sample)))
    end = data.draw(st.integers(min_value=start, max_value=min(len(sample), start + 64)))
    spliced = sample[:start] + data.draw(st.binary(max_size=64)) + sample[end:]
    parse_or_refuse(spliced)
    inspect_never_raises(spliced)
