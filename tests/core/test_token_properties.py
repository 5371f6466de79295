"""Property tests: no input bytes make the token readers or checks raise anything unexpected.

The readers may only raise ``TokenFileError`` with a public code; ``inspect_token`` never raises
(for an aware ``now``) and turns every refusal into a problem. Inputs: arbitrary bytes, S/MIME- and
base64-looking text, and generated ADE and VPP files truncated or with bytes flipped.
"""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.ade_token import read_ade_token
from bot.core.token_checks import CODES, inspect_token
from bot.core.tokens import AppleToken, CredentialKind
from bot.core.vpp_token import read_vpp_token
from bot.errors import TokenFileError
from tests.clock import T0, days
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CURRENT = AppleToken("t", CredentialKind.VPP, "n", "a@b.example", "Contoso Ltd", days(10))
KINDS = st.sampled_from([None, CredentialKind.ADE, CredentialKind.VPP])


@functools.cache
def samples() -> tuple[bytes, ...]:
    return (
        ade_token_file(),
        ade_token_file(layout="der"),
        ade_token_file(layout="ber"),
        ade_token_file(layout="pem"),
        vpp_token_file(),
    )


def check(data: bytes, kind: CredentialKind | None) -> None:
    found = inspect_token(
        data, now=T0, kind=kind, current=CURRENT, others=[CURRENT], public_key=intune_key().pem
    )
    assert all(p.code in CODES and p.message for p in found.problems)
    for reader in (read_ade_token, read_vpp_token):
        try:
            reader(data)
        except TokenFileError as exc:
            assert exc.code in CODES and exc.user_message


@FAST
@given(st.binary(max_size=4096), KINDS)
def test_arbitrary_bytes_never_raise(data: bytes, kind: CredentialKind | None) -> None:
    check(data, kind)


@FAST
@given(
    st.text(alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789+/=:;- \r\n"', max_size=600),
    KINDS,
)
def test_mime_and_base64_looking_text_never_raises(text: str, kind: CredentialKind | None) -> None:
    check(b"Content-Type: application/pkcs7-mime\r\n\r\n" + text.encode(), kind)
    check(text.encode(), kind)


@FAST
@given(st.data(), KINDS)
def test_damaged_real_shapes_never_raise(data: st.DataObject, kind: CredentialKind | None) -> None:
    sample = bytearray(data.draw(st.sampled_from(samples())))
    cut = data.draw(st.integers(min_value=0, max_value=len(sample)))
    flips = data.draw(st.lists(st.integers(min_value=0, max_value=len(sample) - 1), max_size=4))
    for index in flips:
        sample[index] ^= 0xFF
    check(bytes(sample[:cut] if data.draw(st.booleans()) else sample), kind)
