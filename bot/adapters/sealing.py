"""Encryption at rest for what delegated sign-in keeps: token caches, device flows, certificates.

``APNS_TOKEN_KEY`` holds one Fernet key (AES-128-CBC + HMAC-SHA256, from ``cryptography``), or
several separated by commas: the first encrypts, every one decrypts, so a key is rotated by
putting the new one first and dropping the old one once nothing sealed with it is left. A value
that no configured key opens raises ``SealError``; callers drop what they cannot open and say
who must sign in again, rather than fail in a loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import Secret
from bot.errors import ApnsBotError

# Marks a sealed text column that may also hold plain text written before sealing existed.
SEALED_PREFIX = "sealed:v1:"


class SealError(ApnsBotError):
    """A sealed value could not be opened with any configured ``APNS_TOKEN_KEY``."""


def generate_key() -> str:
    """A new random key for ``APNS_TOKEN_KEY`` (what ``apns-bot keygen`` prints)."""
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals and opens text with the configured keys. Thread-safe (Fernet keeps no state)."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        if not keys:
            raise ValueError("a Sealer needs at least one key")
        self._fernet = MultiFernet([Fernet(key.reveal().encode("ascii")) for key in keys])

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SealError(
                "Stored sign-in data was encrypted with a different APNS_TOKEN_KEY and cannot be "
                "read. Put the previous key after the current one (APNS_TOKEN_KEY=new,old) or "
                "sign in again."
            ) from exc

    def seal_column(self, text: str) -> str:
        """For a column that may also hold older plain text: the sealed value, marked."""
        return SEALED_PREFIX + self.seal(text)

    def open_column(self, value: str) -> str:
        """Open a marked column value; unmarked (older, plain) values come back unchanged."""
        if value.startswith(SEALED_PREFIX):
            return self.open(value[len(SEALED_PREFIX) :])
        return value


def build_sealer(keys: Sequence[Secret]) -> Sealer | None:
    """A sealer for ``Settings.token_keys``; None when no key is configured."""
    return Sealer(keys) if keys else None
