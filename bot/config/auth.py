"""How apns-bot signs in to Microsoft, parsed from settings: the auth mode and the token key.

Two modes (docs/delegated-sign-in.md):

- ``app``: the Entra app's own identity (client secret or certificate, application permission).
- ``delegated``: the approving lead's own Microsoft account (device code flow, delegated
  permission); each approver's sign-in is kept in the database, encrypted with ``APNS_TOKEN_KEY``.

The default is ``app`` when a client secret or certificate is configured, else ``delegated``.
These helpers only parse and append problems; ``bot.config`` and ``bot.config.tenants_file`` call them,
so every mistake still ends up in the one ``ConfigError``. A key's value never appears in a problem.
"""

from __future__ import annotations

import base64
import binascii
from typing import cast

from bot.config.model import AuthMode, Secret

AUTH_MODES = ("app", "delegated")
KEYGEN_HINT = "run `apns-bot keygen` and set APNS_TOKEN_KEY to the key it prints"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_auth_mode(
    raw: str | None, has_credential: bool, problems: list[str], key: str
) -> AuthMode:
    """``raw`` (``app``/``delegated``), or the default for whether a credential is configured."""
    if raw is None:
        return "app" if has_credential else "delegated"
    mode = raw.strip().lower()
    if mode not in AUTH_MODES:
        problems.append(
            f"{key}={raw!r} is unknown: use app (the app's own identity: client secret or "
            "certificate) or delegated (the approving lead signs in with their Microsoft account)."
        )
        return "app" if has_credential else "delegated"
    return cast("AuthMode", mode)


def parse_flag(raw: str | None, problems: list[str], key: str, default: bool = False) -> bool:
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    problems.append(f"{key}={raw!r} must be true or false.")
    return default


def is_fernet_key(text: str) -> bool:
    """32 bytes in url-safe base64: what ``cryptography.fernet.Fernet`` accepts."""
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def parse_token_keys(raw: str | None, problems: list[str]) -> tuple[Secret, ...]:
    """``APNS_TOKEN_KEY``: one Fernet key, or several comma-separated (the first encrypts)."""
    if raw is None:
        return ()
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [n for n, part in enumerate(parts, 1) if not is_fernet_key(part)]
    if not parts or bad:
        which = "it" if len(parts) <= 1 else "key " + ", ".join(str(n) for n in bad)
        problems.append(
            f"APNS_TOKEN_KEY is not valid ({which} is not 32 url-safe base64-encoded bytes, "
            f"44 characters): {KEYGEN_HINT}. To rotate, list the new key first and the old one "
            "after it, separated by a comma."
        )
        return ()
    return tuple(Secret(part) for part in parts)


def missing_key_problem(chosen_by: str | None) -> str:
    """``chosen_by`` names the setting that asked for delegated mode; None: it is the default."""
    if chosen_by is not None:
        return (
            f"APNS_TOKEN_KEY is missing: delegated sign-in ({chosen_by}) keeps each approver's "
            f"Microsoft sign-in encrypted with it; {KEYGEN_HINT}."
        )
    return (
        "Choose how apns-bot signs in to Microsoft: app-only — set AZURE_CLIENT_SECRET "
        "(Certificates & secrets → New client secret: the Value, not the Secret ID) or "
        "AZURE_CLIENT_CERTIFICATE_PATH (a PEM file holding the certificate and its private key); "
        "or delegated, as the approving lead (the default without a secret or certificate) — "
        f"{KEYGEN_HINT}. See docs/delegated-sign-in.md."
    )
