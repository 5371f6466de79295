"""Sealing with APNS_TOKEN_KEY: round trips, rotation, and a clear error for a foreign key."""

from __future__ import annotations

import pytest

from bot.adapters.sealing import SEALED_PREFIX, Sealer, build_sealer, generate_key
from bot.config import Secret
from bot.config.auth import is_fernet_key
from bot.errors import SealError

OLD, NEW, OTHER = generate_key(), generate_key(), generate_key()


def test_a_sealed_text_opens_with_its_key_and_hides_its_content() -> None:
    sealer = Sealer([Secret(NEW)])
    sealed = sealer.seal('{"refresh_token": "0.AXsecret"}')
    assert "0.AXsecret" not in sealed
    assert sealer.open(sealed) == '{"refresh_token": "0.AXsecret"}'
    assert sealer.seal("x") != sealer.seal("x")  # a fresh IV every time


def test_a_foreign_key_raises_a_seal_error_that_says_what_to_do() -> None:
    sealed = Sealer([Secret(OLD)]).seal("cache")
    with pytest.raises(SealError) as caught:
        Sealer([Secret(OTHER)]).open(sealed)
    assert "APNS_TOKEN_KEY=new,old" in caught.value.user_message
    with pytest.raises(SealError):
        Sealer([Secret(OTHER)]).open("not a fernet token")


def test_rotation_opens_old_values_and_seals_with_the_first_key() -> None:
    old_sealed = Sealer([Secret(OLD)]).seal("cache")
    rotated = Sealer([Secret(NEW), Secret(OLD)])
    assert rotated.open(old_sealed) == "cache"
    assert Sealer([Secret(NEW)]).open(rotated.seal("fresh")) == "fresh"


def test_columns_are_marked_and_older_plain_values_pass_through() -> None:
    sealer = Sealer([Secret(NEW)])
    column = sealer.seal_column("-----BEGIN CERTIFICATE-----")
    assert column.startswith(SEALED_PREFIX) and "BEGIN" not in column
    assert sealer.open_column(column) == "-----BEGIN CERTIFICATE-----"
    assert sealer.open_column("-----BEGIN CERTIFICATE-----") == "-----BEGIN CERTIFICATE-----"


def test_generated_keys_are_valid_and_no_key_means_no_sealer() -> None:
    assert is_fernet_key(generate_key())
    assert not is_fernet_key("too-short")
    assert not is_fernet_key("é" * 44)
    assert build_sealer(()) is None
    with pytest.raises(ValueError):
        Sealer([])
