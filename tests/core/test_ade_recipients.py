"""Whom an ADE token was encrypted to, compared with Intune's key (``encrypted_to``): issuer and
serial (DER bytes, then names compared as X.500 names) or subject key identifier (computed from
the key, RFC 5280 method 1, when Intune's certificate has no such extension)."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from bot.core.ade_token import encrypted_to, read_ade_token, read_intune_key
from tests.clock import T0
from tests.tokengen import IntuneKey, ade_token_file, intune_key


def reissued(
    key: IntuneKey,
    *,
    serial: int | None = None,
    issuer: x509.Name | None = None,
    ski: bool = True,
) -> str:
    """A certificate for ``key``'s own key pair: another serial or issuer, with or without SKI."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(key.cert.subject)
        .issuer_name(issuer or key.cert.issuer)
        .public_key(key.key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=365))
    )
    if ski:
        identifier = x509.SubjectKeyIdentifier.from_public_key(key.key.public_key())
        builder = builder.add_extension(identifier, critical=False)
    return builder.sign(key.key, hashes.SHA256()).public_bytes(Encoding.PEM).decode("ascii")


def name(common_name: str, kind: _ASN1Type = _ASN1Type.UTF8String) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name, _type=kind),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Microsoft Intune (test)"),
        ]
    )


def test_matching_goes_by_issuer_and_serial_not_by_the_key_alone() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key))
    assert encrypted_to(token, read_intune_key(key.pem))
    # the same key pair in a re-issued certificate: same issuer, another serial
    assert not encrypted_to(token, read_intune_key(reissued(key)))


def test_the_same_serial_from_another_issuer_is_another_key() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key))
    other = reissued(key, serial=key.cert.serial_number, issuer=name("Someone else's CA"))
    assert not encrypted_to(token, read_intune_key(other))


def test_an_issuer_encoded_differently_is_the_same_name() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key))
    printable = name("INTUNE ADE token key 3", _ASN1Type.PrintableString)  # other bytes, same name
    same = read_intune_key(reissued(key, serial=key.cert.serial_number, issuer=printable))
    assert same.issuer_der != token.recipients[0].issuer_der
    assert encrypted_to(token, same)


def test_a_key_identifier_recipient_matches_the_same_key_in_a_reissued_certificate() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key, layout="key_id"))
    assert encrypted_to(token, read_intune_key(reissued(key)))
    assert not encrypted_to(token, read_intune_key(intune_key(1).pem))


def test_without_an_ski_extension_the_key_identifier_is_computed_from_the_key() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key, layout="key_id"))
    bare = read_intune_key(reissued(key, ski=False))
    assert bare.key_identifier is None  # the certificate has none...
    assert encrypted_to(token, bare)  # ...so it is computed (SHA-1 of the key's bits)
    assert not encrypted_to(token, read_intune_key(reissued(intune_key(1), ski=False)))
