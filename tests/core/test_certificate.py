"""Parsing uploaded push certificates: formats accepted, files refused, facts extracted."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from bot.core.certificate import ParsedCertificate, parse_certificate
from bot.core.certinput import MAX_CERTIFICATE_FILE_BYTES
from bot.core.der import shape as der_shape
from bot.errors import ApnsBotError, CertificateError
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_PUSH_CERT,
    GeneratedCert,
    apple_ca,
    bare_base64,
    bundle,
    ec_key,
    make_push_cert,
    needs_apple_fixtures,
    pkcs7_bundle,
    rsa_key,
)


@pytest.fixture(scope="module")
def leaf() -> GeneratedCert:
    return make_push_cert()


def _relabel(pem: bytes, label: bytes) -> bytes:
    return pem.replace(b"CERTIFICATE-----", label + b"-----")


FORMATS: dict[str, Callable[[GeneratedCert], bytes]] = {
    "pem": lambda g: g.pem,
    "pem without final newline": lambda g: g.pem.rstrip(),
    "pem with CRLF": lambda g: g.pem_crlf,
    "pem with text around": lambda g: b"subject=UID=...\nissuer=Apple\n" + g.pem + b"\nbye\n",
    "pem with UTF-8 BOM": lambda g: b"\xef\xbb\xbf" + g.pem,
    "pem saved as UTF-16": lambda g: g.pem.decode().encode("utf-16"),
    "der (.cer)": lambda g: g.der,
    "bare base64": lambda g: bare_base64(g.der),
    "X509 CERTIFICATE label": lambda g: _relabel(g.pem, b"X509 CERTIFICATE"),
    "TRUSTED CERTIFICATE with trust settings": lambda g: (
        b"-----BEGIN TRUSTED CERTIFICATE-----\n"
        + base64.encodebytes(g.der + b"\x30\x00")
        + b"-----END TRUSTED CERTIFICATE-----\n"
    ),
    "bundle leaf first": lambda g: bundle(g.pem, apple_ca().intermediate.pem, apple_ca().root.pem),
    "bundle leaf last": lambda g: bundle(apple_ca().root.pem, apple_ca().intermediate.pem, g.pem),
    "bundle with CRLF and no commentary": lambda g: bundle(
        apple_ca().intermediate.pem_crlf, g.pem_crlf, commentary=False
    ),
    "same leaf twice": lambda g: bundle(g.pem, g.pem),
    "pkcs7 der (.p7b)": lambda g: pkcs7_bundle(apple_ca().intermediate, g),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_accepted_format_yields_the_same_certificate(leaf: GeneratedCert, fmt: str) -> None:
    parsed = parse_certificate(FORMATS[fmt](leaf))
    assert parsed.topic == leaf.topic
    assert parsed.serial == leaf.serial
    assert parsed.der == leaf.der
    assert parsed.pem == leaf.pem.decode()


def test_bundle_reports_the_other_certificates(leaf: GeneratedCert) -> None:
    ca = apple_ca()
    parsed = parse_certificate(bundle(ca.root.pem, leaf.pem, ca.intermediate.pem))
    assert parsed.topic == leaf.topic
    assert [o.common_name for o in parsed.others] == [
        "Apple Root CA",
        "Apple Application Integration 2 Certification Authority",
    ]
    assert all(o.is_ca for o in parsed.others)
    assert parsed.others[1].issuer == ca.root.cert.subject.rfc4514_string()


def test_bundle_prefers_the_push_certificate_over_another_end_entity(leaf: GeneratedCert) -> None:
    tls = make_push_cert(topic=None, common_name="www.example.com", marker=False)
    parsed = parse_certificate(bundle(tls.pem, leaf.pem))
    assert parsed.topic == leaf.topic
    assert [o.common_name for o in parsed.others] == ["www.example.com"]
    assert not parsed.others[0].is_ca


def test_a_file_of_ca_certificates_describes_the_lowest_one() -> None:
    ca = apple_ca()
    parsed = parse_certificate(bundle(ca.root.pem, ca.intermediate.pem))
    assert parsed.common_name == "Apple Application Integration 2 Certification Authority"
    assert parsed.is_ca and parsed.topic is None


def test_facts(leaf: GeneratedCert) -> None:
    parsed = parse_certificate(leaf.pem)
    uuid = leaf.uuid
    assert parsed.topic == f"com.apple.mgmt.External.{uuid}"
    assert parsed.common_name == f"APSP:{uuid}"
    assert parsed.subject == f"C=US,CN=APSP:{uuid},UID=com.apple.mgmt.External.{uuid}"
    assert parsed.not_before == leaf.cert.not_valid_before_utc
    assert parsed.not_after == leaf.cert.not_valid_after_utc
    assert parsed.not_before.tzinfo is UTC and parsed.not_after.tzinfo is UTC
    assert parsed.issuer == (
        "C=US,O=Apple Inc.,OU=Apple Certification Authority,"
        "CN=Apple Application Integration 2 Certification Authority"
    )
    assert parsed.issuer_common_name == "Apple Application Integration 2 Certification Authority"
    assert parsed.issuer_organization == "Apple Inc."
    digest = hashlib.sha256(leaf.der).hexdigest().upper()
    assert parsed.sha256 == ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    assert (parsed.key_type, parsed.key_size) == ("RSA", 2048)
    assert parsed.signature_hash == "sha256"
    assert parsed.apple_push_marker is True
    assert parsed.is_ca is False and parsed.others == ()
    assert not parsed.self_issued


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (0x1234, "0000000000001234"),
        (0x0B7002EFEA6BA6D0, "0B7002EFEA6BA6D0"),
        (0xFFFFFFFFFFFFFFFF, "FFFFFFFFFFFFFFFF"),
        (0x1_0000_0000_0000_0000, "10000000000000000"),
    ],
)
def test_serial_is_upper_hex_zero_padded_to_16(serial: int, expected: str) -> None:
    assert parse_certificate(make_push_cert(serial=serial).pem).serial == expected


def test_normalised_pem_is_exactly_what_graph_gets(leaf: GeneratedCert) -> None:
    parsed = parse_certificate(leaf.pem_crlf)
    assert parsed.pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert parsed.pem.endswith("\n-----END CERTIFICATE-----\n")
    assert "\r" not in parsed.pem
    body = parsed.pem.splitlines()[1:-1]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
    assert base64.b64decode("".join(body)) == leaf.der
    assert parse_certificate(parsed.pem.encode()) == parsed


def test_other_key_types_are_described() -> None:
    parsed = parse_certificate(make_push_cert(key=ec_key()).pem)
    assert (parsed.key_type, parsed.key_size) == ("EC", 256)
    weak = parse_certificate(make_push_cert(key=rsa_key(bits=1024)).pem)
    assert (weak.key_type, weak.key_size) == ("RSA", 1024)


def test_marker_absent_and_missing_names_are_reported_as_none() -> None:
    parsed = parse_certificate(make_push_cert(topic=None, common_name=None, marker=False).der)
    assert parsed.topic is None and parsed.common_name is None
    assert parsed.apple_push_marker is False


def test_repr_never_shows_the_certificate_body(leaf: GeneratedCert) -> None:
    parsed = parse_certificate(leaf.pem)
    body = parsed.pem.splitlines()[5]
    assert body not in repr(parsed)


def _csr() -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Intune")]))
        .sign(rsa_key(2), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def _public_key() -> bytes:
    return (
        rsa_key(2)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _key_block(label: str) -> bytes:
    return f"-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n".encode()


REFUSED: dict[str, tuple[Callable[[GeneratedCert], bytes], str]] = {
    # private keys, every way they arrive
    "cert + PKCS#8 key": (lambda g: g.with_key("pkcs8"), "private_key_present"),
    "cert + RSA PRIVATE KEY": (lambda g: g.with_key("traditional"), "private_key_present"),
    "cert + ENCRYPTED PRIVATE KEY": (lambda g: g.with_key("encrypted"), "private_key_present"),
    "key before cert": (lambda g: g.key_pem() + g.pem, "private_key_present"),
    "key alone": (lambda g: g.key_pem(), "private_key_present"),
    "EC PRIVATE KEY": (
        lambda g: make_push_cert(key=ec_key()).with_key("traditional"),
        "private_key_present",
    ),
    "OPENSSH PRIVATE KEY": (lambda g: g.pem + g.key_pem("openssh"), "private_key_present"),
    "DSA PRIVATE KEY": (lambda g: g.pem + _key_block("DSA PRIVATE KEY"), "private_key_present"),
    "PGP PRIVATE KEY BLOCK": (
        lambda g: _key_block("PGP PRIVATE KEY BLOCK") + g.pem,
        "private_key_present",
    ),
    "truncated key block": (
        lambda g: g.pem + g.key_pem()[:80],
        "private_key_present",
    ),
    "lower-case key label": (
        lambda g: g.pem + _key_block("private key").lower(),
        "private_key_present",
    ),
    "PuTTY key": (
        lambda g: b"PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n",
        "private_key_present",
    ),
    "PKCS12 PEM block": (lambda g: _key_block("PKCS12"), "private_key_present"),
    ".p12 without password": (lambda g: g.pkcs12(), "private_key_present"),
    ".p12 with password": (
        lambda g: g.pkcs12(b"pw", chain=(apple_ca().intermediate,)),
        "private_key_present",
    ),
    ".p12 as base64 text": (lambda g: bare_base64(g.pkcs12()), "private_key_present"),
    "DER PKCS#8 key": (lambda g: g.key_der("pkcs8"), "private_key_present"),
    "DER PKCS#1 key": (lambda g: g.key_der("traditional"), "private_key_present"),
    "DER SEC1 EC key": (
        lambda g: make_push_cert(key=ec_key()).key_der("traditional"),
        "private_key_present",
    ),
    # size
    "over 64 KiB": (
        lambda g: g.pem + b"#" * (MAX_CERTIFICATE_FILE_BYTES + 1 - len(g.pem)),
        "too_large",
    ),
    "10 MB": (lambda g: b"\0" * 10_000_000, "too_large"),
    # not certificates
    "empty": (lambda g: b"", "not_a_certificate"),
    "whitespace": (lambda g: b" \r\n\t ", "not_a_certificate"),
    "text": (lambda g: b"hello, this is not a certificate", "not_a_certificate"),
    "Slack login page": (
        lambda g: b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
        "not_a_certificate",
    ),
    "CSR": (lambda g: _csr(), "not_a_certificate"),
    "public key": (lambda g: _public_key(), "not_a_certificate"),
    "damaged base64": (
        lambda g: g.pem.replace(g.pem.splitlines()[3], b"!!!!" * 16),
        "not_a_certificate",
    ),
    "truncated PEM": (lambda g: g.pem[:400], "not_a_certificate"),
    "truncated DER": (lambda g: g.der[:-10], "not_a_certificate"),
    "DER with trailing garbage": (lambda g: g.der + b"\x00", "not_a_certificate"),
    # two candidate push certificates
    "two push certificates": (
        lambda g: bundle(g.pem, make_push_cert().pem),
        "multiple_leaf_certificates",
    ),
    "two end-entity certificates": (
        lambda g: bundle(
            make_push_cert(topic=None, common_name="a", marker=False).pem,
            make_push_cert(topic=None, common_name="b", marker=False).pem,
        ),
        "multiple_leaf_certificates",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused(leaf: GeneratedCert, case: str) -> None:
    make, code = REFUSED[case]
    with pytest.raises(CertificateError) as info:
        parse_certificate(make(leaf))
    assert info.value.code == code
    assert isinstance(info.value, ApnsBotError)
    assert info.value.user_message and "Traceback" not in info.value.user_message


def test_exactly_64_kib_is_accepted(leaf: GeneratedCert) -> None:
    data = leaf.pem + b"#" * (MAX_CERTIFICATE_FILE_BYTES - len(leaf.pem))
    assert len(data) == MAX_CERTIFICATE_FILE_BYTES
    assert parse_certificate(data).topic == leaf.topic


@pytest.mark.parametrize("kind", ["pkcs8", "traditional", "encrypted"])
def test_key_material_is_kept_nowhere(leaf: GeneratedCert, kind: str) -> None:
    data = leaf.with_key(kind)  # type: ignore[arg-type]
    key_lines = [line for line in leaf.key_pem(kind).splitlines() if b"-----" not in line]  # type: ignore[arg-type]
    with pytest.raises(CertificateError) as info:
        parse_certificate(data)
    exc = info.value
    texts = [str(exc), repr(exc), exc.user_message, *map(str, exc.args), repr(vars(exc))]
    for line in key_lines[:3]:
        assert all(line.decode() not in text for text in texts)
    assert exc.__cause__ is None and exc.__context__ is None  # no chained parser error either


def test_pkcs12_is_recognised_by_shape_without_a_password(leaf: GeneratedCert) -> None:
    assert der_shape(leaf.pkcs12(b"secret")) == "pkcs12"
    assert der_shape(leaf.pkcs12()) == "pkcs12"
    assert der_shape(leaf.der) == "other"
    assert der_shape(pkcs7_bundle(leaf)) == "pkcs7"
    assert der_shape(b"") == der_shape(b"\x30") == der_shape(b"\x30\x84\xff\xff\xff\xff") == "other"


def test_refusal_messages_say_what_to_do(leaf: GeneratedCert) -> None:
    with pytest.raises(CertificateError) as csr:
        parse_certificate(_csr())
    assert "signing request" in csr.value.user_message
    with pytest.raises(CertificateError) as key:
        parse_certificate(leaf.pkcs12())
    assert "delete it" in key.value.user_message and "identity.apple.com" not in key.value.code


@needs_apple_fixtures
def test_real_apple_push_certificate() -> None:
    text = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
    parsed: ParsedCertificate = parse_certificate(text)
    assert parsed.topic == "com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9"
    assert parsed.common_name == "APSP:e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9"
    assert parsed.serial == "734DF9C0BB2703FD"
    assert parsed.not_before == datetime(2021, 2, 10, 17, 44, 47, tzinfo=UTC)
    assert parsed.not_after == datetime(2022, 2, 10, 17, 44, 47, tzinfo=UTC)
    assert parsed.issuer_common_name == "Apple Application Integration 2 Certification Authority"
    assert parsed.issuer_organization == "Apple Inc."
    assert (parsed.key_type, parsed.key_size) == ("RSA", 2048)
    assert parsed.apple_push_marker and not parsed.is_ca
    # Apple's file lacks the final newline; the normalised text differs only by it.
    assert parsed.pem == text.decode().strip() + "\n"
    assert parse_certificate(text.replace(b"\n", b"\r\n")).pem == parsed.pem
