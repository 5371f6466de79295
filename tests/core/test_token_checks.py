"""Token pre-flight (``bot.core.token_checks``): every problem code, on files shaped like Apple's."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from bot.cli.inspect_token import render
from bot.core.ade_token import MAX_TOKEN_FILE_BYTES, encrypted_to, read_ade_token, read_intune_key
from bot.core.token_checks import CODES, detect_kind, inspect_token
from bot.core.tokens import AppleToken, CredentialKind
from bot.core.vpp_token import parse_expiry, read_vpp_token
from bot.errors import TokenFileError
from tests.certgen import make_push_cert
from tests.clock import T0, days
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

ORG = "Contoso Ltd"


def vpp_current(**changes: object) -> AppleToken:
    values: dict[str, object] = {
        "id": "vpp-1",
        "kind": CredentialKind.VPP,
        "name": "Contoso Apps and Books",
        "apple_id": "apps-admin@contoso.example",
        "organization": ORG,
        "expires_at": days(20),
        "state": "valid",
    }
    values.update(changes)
    return AppleToken(**values)  # type: ignore[arg-type]


def ade_current(apple_id: str = "abm-admin@contoso.example") -> AppleToken:
    return AppleToken("ade-1", CredentialKind.ADE, "Contoso ABM", apple_id, None, days(20))


# --- the happy paths and detection ----------------------------------------------------------


@pytest.mark.parametrize(
    "layout", ["smime", "smime_one_line", "smime_lf", "base64", "pem", "der", "ber", "streamed"]
)
def test_an_ade_token_in_any_layout_matches_intunes_key(layout: str) -> None:
    key = intune_key()
    found = inspect_token(
        ade_token_file(key, layout=layout),  # type: ignore[arg-type]
        now=T0,
        public_key=key.pem,
        apple_id="abm-admin@contoso.example",
        current=ade_current(),
    )
    assert found.kind == CredentialKind.ADE
    assert found.problems == ()
    assert found.ade is not None and found.ade.recipients[0].serial == key.serial
    assert found.ade.smime == layout.startswith("smime")


def test_apples_smime_file_is_sent_to_intune_exactly_as_it_came() -> None:
    data = ade_token_file()
    assert read_ade_token(data).content == data.decode().strip()


def test_a_bare_cms_is_rewrapped_the_way_apple_delivers_it() -> None:
    content = read_ade_token(ade_token_file(layout="der")).content
    assert content.startswith('Content-Type: application/pkcs7-mime; name="smime.p7m"')
    assert (
        read_ade_token(content.encode()).recipients == read_ade_token(ade_token_file()).recipients
    )


def test_a_vpp_token_with_a_later_expiry_of_the_same_organisation_passes() -> None:
    found = inspect_token(
        vpp_token_file(ORG, days(365)), now=T0, current=vpp_current(), others=[vpp_current()]
    )
    assert found.kind == CredentialKind.VPP and found.problems == () and not found.blocking
    assert found.vpp is not None and found.vpp.expires_at == days(365)


def test_the_kind_is_detected_from_the_content() -> None:
    assert detect_kind(ade_token_file()) == CredentialKind.ADE
    assert detect_kind(ade_token_file(layout="ber")) == CredentialKind.ADE
    assert detect_kind(vpp_token_file()) == CredentialKind.VPP
    with pytest.raises(TokenFileError) as caught:
        detect_kind(b"hello, this is a text file")
    assert caught.value.code == "not_a_token"


def test_every_code_has_a_severity_and_only_two_are_warnings() -> None:
    assert {c for c, s in CODES.items() if s == "warning"} == {
        "public_key_not_checked",
        "apple_id_mismatch",
    }


# --- both kinds: bounded input, no keys -------------------------------------------------------


@pytest.mark.parametrize("kind", [None, CredentialKind.ADE, CredentialKind.VPP])
def test_a_huge_file_is_refused_before_it_is_decoded(kind: CredentialKind | None) -> None:
    found = inspect_token(b"A" * (MAX_TOKEN_FILE_BYTES + 1), now=T0, kind=kind)
    assert found.codes == ["too_large"] and found.blocking


@pytest.mark.parametrize("kind", [None, CredentialKind.ADE, CredentialKind.VPP])
def test_a_file_with_a_private_key_is_refused_unread(kind: CredentialKind | None) -> None:
    leaked = make_push_cert().with_key()
    found = inspect_token(leaked, now=T0, kind=kind)
    assert found.codes == ["private_key_present"]
    assert "BEGIN" not in found.problems[0].message


def test_a_p12_or_a_base64_key_is_refused_unread() -> None:
    p12 = make_push_cert().pkcs12()
    assert inspect_token(p12, now=T0).codes == ["private_key_present"]
    der_key = make_push_cert().key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for kind in (CredentialKind.ADE, CredentialKind.VPP):
        found = inspect_token(base64.b64encode(der_key), now=T0, kind=kind)
        assert found.codes == ["private_key_present"], kind


# --- VPP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not base64 at all!",
        base64.b64encode(b"plain text, not JSON"),
        base64.b64encode(json.dumps(["a", "list"]).encode()),
        base64.b64encode(json.dumps({"token": "x", "orgName": ORG}).encode()),
        base64.b64encode(json.dumps({"token": "x", "expDate": "soon", "orgName": ORG}).encode()),
        base64.b64encode(
            json.dumps({"token": "", "expDate": f"{days(365):%Y-%m-%d}", "orgName": ORG}).encode()
        ),
    ],
)
def test_what_is_not_a_vpp_token_says_so(data: bytes) -> None:
    found = inspect_token(data, now=T0, kind=CredentialKind.VPP)
    assert found.codes == ["not_a_vpp_token"] and found.vpp is None


def test_an_ade_token_given_as_vpp_is_not_a_vpp_token() -> None:
    found = inspect_token(ade_token_file(), now=T0, kind=CredentialKind.VPP)
    assert found.codes == ["not_a_vpp_token"]
    assert ".p7m" in found.problems[0].message


def test_an_expired_vpp_token_is_blocked() -> None:
    found = inspect_token(vpp_token_file(ORG, days(-1)), now=T0, kind=CredentialKind.VPP)
    assert "expired" in found.codes and found.blocking


def test_a_vpp_token_not_newer_than_the_current_one_is_blocked() -> None:
    current = vpp_current(expires_at=days(200))
    found = inspect_token(vpp_token_file(ORG, days(200)), now=T0, current=current)
    assert found.codes == ["not_newer"]
    assert inspect_token(vpp_token_file(ORG, days(150)), now=T0, current=current).codes == [
        "not_newer"
    ]


def test_another_organisations_vpp_token_is_blocked() -> None:
    found = inspect_token(vpp_token_file("Fabrikam Inc", days(365)), now=T0, current=vpp_current())
    assert found.codes == ["organization_mismatch"]
    assert "Fabrikam Inc" in found.problems[0].message and ORG in found.problems[0].message
    spaced = inspect_token(
        vpp_token_file("  contoso   LTD ", days(365)), now=T0, current=vpp_current()
    )
    assert spaced.codes == []  # case and spacing are not a different organisation


def test_a_vpp_token_another_intune_token_already_uses_is_a_duplicate() -> None:
    other = vpp_current(
        id="vpp-2", name="Contoso Berlin", expires_at=days(365) + timedelta(milliseconds=400)
    )
    found = inspect_token(
        vpp_token_file(ORG, days(365)), now=T0, current=vpp_current(), others=[vpp_current(), other]
    )
    assert found.codes == ["duplicate_token"] and "Contoso Berlin" in found.problems[0].message
    later = vpp_current(id="vpp-3", expires_at=days(366))
    assert (
        inspect_token(
            vpp_token_file(ORG, days(365)), now=T0, current=vpp_current(), others=[later]
        ).codes
        == []
    )


def test_two_locations_downloaded_30_seconds_apart_are_not_duplicates() -> None:
    # a batch renewal: each location's token downloaded from ABM one after the other
    berlin = vpp_current(id="vpp-2", name="Contoso Berlin", expires_at=days(365))
    found = inspect_token(
        vpp_token_file(ORG, days(365) + timedelta(seconds=30)),
        now=T0,
        current=vpp_current(),
        others=[vpp_current(), berlin],
    )
    assert found.codes == []
    second = inspect_token(
        vpp_token_file(ORG, days(365) + timedelta(seconds=1)), now=T0, others=[berlin]
    )
    assert second.codes == []  # a whole second apart is another download


def test_apples_expiry_formats_are_read() -> None:
    expected = days(0).replace(microsecond=0)
    for text in (
        expected.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expected.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        expected.strftime("%Y-%m-%dT%H:%M:%S.000+00:00"),
        expected.strftime("%Y-%m-%d %H:%M:%S"),
    ):
        assert parse_expiry(text) == expected, text


def test_the_vpp_token_value_never_shows() -> None:
    data = vpp_token_file(token="SECRET-TOKEN-VALUE")
    parsed = read_vpp_token(data)
    found = inspect_token(data, now=T0)
    assert "SECRET-TOKEN-VALUE" not in repr(parsed) + json.dumps(found.as_dict(evaluated_at=T0))


# --- ADE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Content-Type: text/plain\r\n\r\nhello",
        b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nMIIB",
        b"Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: 7bit\r\n\r\nx",
        b"Content-Type: application/pkcs7-mime\r\n\r\n!!!not base64!!!",
        b"\x30\x82\x01\x00garbage",
        make_push_cert().pem,  # a certificate, not a token
    ],
)
def test_what_is_not_an_ade_token_says_so(data: bytes) -> None:
    found = inspect_token(data, now=T0, kind=CredentialKind.ADE)
    assert found.codes == ["not_an_ade_token"] and found.ade is None


def test_a_signed_pkcs7_bundle_is_not_an_ade_token() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    bundle = pkcs7.serialize_certificates([make_push_cert().cert], Encoding.DER)
    found = inspect_token(bundle, now=T0, kind=CredentialKind.ADE)
    assert found.codes == ["not_an_ade_token"] and "not an encrypted" in found.problems[0].message


def test_a_vpp_token_given_as_ade_is_not_an_ade_token() -> None:
    assert inspect_token(vpp_token_file(), now=T0, kind=CredentialKind.ADE).codes == [
        "not_an_ade_token"
    ]


def test_a_token_encrypted_to_another_key_is_blocked() -> None:
    found = inspect_token(ade_token_file(intune_key(2)), now=T0, public_key=intune_key(1).pem)
    assert found.codes == ["wrong_public_key"] and found.blocking
    assert intune_key(2).serial in found.problems[0].message
    assert intune_key(1).serial in found.problems[0].message


@pytest.mark.parametrize("layout", ["key_id", "streamed"])
def test_other_cms_shapes_match_the_right_key_and_no_other(layout: str) -> None:
    key = intune_key(3)
    data = ade_token_file(key, layout=layout)  # type: ignore[arg-type]
    assert inspect_token(data, now=T0, public_key=key.pem).codes == []
    wrong = inspect_token(data, now=T0, public_key=intune_key(1).pem)
    assert wrong.codes == ["wrong_public_key"]
    recipient = read_ade_token(data).recipients[0]
    if layout == "key_id":
        assert recipient.kind == "key_identifier" and recipient.serial is None
        assert recipient.key_identifier is not None
        assert recipient.key_identifier in wrong.problems[0].message
    else:
        assert recipient.serial == key.serial


def test_a_key_without_pem_armour_matches_too() -> None:
    key = intune_key(3)
    token = read_ade_token(ade_token_file(key))
    bare = key.pem.split("-----")[2]  # Graph may give the certificate without PEM armour
    assert encrypted_to(token, read_intune_key(bare))


def test_without_intunes_key_the_match_is_a_warning_not_a_pass() -> None:
    found = inspect_token(ade_token_file(), now=T0)
    assert found.codes == ["public_key_not_checked"] and not found.blocking


def test_a_key_given_but_unreadable_blocks_instead_of_passing_unchecked() -> None:
    for text in ("not a certificate", "", intune_key().pem[:200]):
        unreadable = inspect_token(ade_token_file(), now=T0, public_key=text)
        assert unreadable.codes == ["public_key_unreadable"] and unreadable.blocking
    with pytest.raises(TokenFileError) as raised:
        read_intune_key("not a certificate")
    assert raised.value.code == "public_key_unreadable"


def test_another_apple_id_than_the_tokens_is_a_warning() -> None:
    key = intune_key()
    found = inspect_token(
        ade_token_file(key),
        now=T0,
        public_key=key.pem,
        apple_id="someone@else.example",
        current=ade_current(),
    )
    assert found.codes == ["apple_id_mismatch"] and not found.blocking
    same = inspect_token(
        ade_token_file(key),
        now=T0,
        public_key=key.pem,
        apple_id="ABM-Admin@Contoso.example",
        current=ade_current(),
    )
    assert same.codes == []


def test_a_malformed_apple_id_is_an_error() -> None:
    key = intune_key()
    found = inspect_token(ade_token_file(key), now=T0, public_key=key.pem, apple_id="not an id")
    assert found.codes == ["invalid_apple_id"]


def test_errors_come_before_warnings() -> None:
    found = inspect_token(
        ade_token_file(intune_key(2)),
        now=T0,
        public_key=intune_key(1).pem,
        apple_id="someone@else.example",
        current=ade_current(),
    )
    assert found.codes == ["wrong_public_key", "apple_id_mismatch"]


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        inspect_token(vpp_token_file(), now=T0.replace(tzinfo=None))


def test_a_token_for_many_recipients_names_three_then_counts_the_rest() -> None:
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(b"token")
    others = [intune_key(slot) for slot in (2, 3, 4, 5, 6)]
    for key in others:
        builder = builder.add_recipient(key.cert)
    data = builder.encrypt(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    found = inspect_token(data, now=T0, public_key=intune_key(1).pem)
    assert found.codes == ["wrong_public_key"]
    message = found.problems[0].message
    assert sum(key.serial in message for key in others) == 3 and "+2 more" in message
    facts = render(found, name="many.p7m", now=T0).split("Problems")[0].splitlines()
    assert len([line for line in facts if line.startswith("  Encrypted to")]) == 3
    assert any(line.strip() == "+2 more" for line in facts)


def test_raw_der_ending_in_a_whitespace_byte_is_read_whole() -> None:
    # DER is binary: a last byte of 0x0A or 0x20 is content, not trailing whitespace
    key = intune_key()
    for _ in range(2000):
        data = ade_token_file(key, layout="der")
        if data[-1:] in (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c"):
            break
    else:
        pytest.fail("no generated token ended in a whitespace byte")
    assert inspect_token(data, now=T0, public_key=key.pem).codes == []
    assert read_ade_token(b"\n" + data).sha256 == read_ade_token(data).sha256
