"""Encryption at rest for what delegated sign-in keeps: token caches, device flows, certificates.

``APNS_TOKEN_KEY`` holds one Fernet key (AES-128-CBC + HMAC-SHA256, from ``cryptography``), or
several separated by commas: the first encrypts, every one decrypts, so a key is rotated by
putting the new one first, running ``apns-bot rekey`` (every stored value sealed again with it)
and then dropping the old one. A value
that no configured key opens raises ``SealError``; callers drop what they cannot open and say
who must sign in again, rather than fail in a loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import Secret
from bot.errors import SealError

# Marks a sealed text column that may also hold plain text written before sealing existed.
SEALED_PREFIX = "sealed:v1:"


def generate_key() -> str:
    """A new random key for ``APNS_TOKEN_KEY`` (what ``apns-bot keygen`` prints)."""
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals and opens text with the configured keys. Thread-safe (Fernet keeps no state)."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        if not keys:
            raise ValueError("a Sealer needs at least one key")
        fernets = [Fernet(key.reveal().encode("ascii")) for key in keys]
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)

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

    def is_current(self, sealed: str) -> bool:
        """Whether the first (current) key opens ``sealed``: False for a value on an older key
        (or on none)."""
        try:
            self._first.decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """``sealed`` sealed again with the first key (``SealError`` if no configured key opens
        it), so an older key can be dropped from ``APNS_TOKEN_KEY``."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SealError("a stored value opens with none of the APNS_TOKEN_KEY keys") from exc

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
