"""Delegated sign-in as ``TokenProvider``s: Graph calls made with a signed-in approver's token.

- ``UserTokens``: one Slack user's saved sign-in (the PATCH of a renewal they approved).
- ``TenantReader``: the most recently used valid sign-in of the tenant (status, reminders, the
  pre-flight read); with none, ``SignInRequiredError`` says who should sign in and how.

Each saved sign-in is an MSAL token cache sealed with ``APNS_TOKEN_KEY`` in the store. A token is
taken from it on every call (so a sign-out on another replica takes effect at once); a refreshed
cache is sealed and written back. A sign-in that cannot be used any more — the refresh token was
refused, or it was sealed with a key that is no longer configured — is removed with a warning and
an audit event, and the person is asked to sign in again: a bad key never becomes a crash loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from bot.adapters.entra.public_client import PublicClient
from bot.adapters.sealing import Sealer, build_sealer
from bot.adapters.store import open_store
from bot.config import Settings, TenantSettings
from bot.core.messages import COMMAND
from bot.core.signin import SavedSignIn
from bot.errors import AuthError, SealError
from bot.usecases.ports import Store

log = logging.getLogger(__name__)

SIGNIN_DROPPED = "signin_dropped"  # audit event: a saved sign-in was removed as unusable


class SignInRequiredError(AuthError):
    """No usable delegated sign-in for what was asked; the message says who signs in and how."""


def nobody_signed_in(tenant: TenantSettings) -> SignInRequiredError:
    return SignInRequiredError(
        f"Nobody is signed in to Microsoft for {tenant.label}: in delegated mode apns-bot reads "
        "and changes Intune with an approver's own Microsoft account. An approver types "
        f"`{COMMAND} signin` in Slack (or approves a renewal) and signs in with their work account.",
        error="signin_required",
    )


class DelegatedTokens:
    """Takes access tokens out of saved sign-ins; shared by the providers below."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        sealer: Sealer,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.read_only = read_only  # doctor: skip unusable sign-ins, never remove them
        self._clients: dict[str, PublicClient] = {}
        self._lock = threading.Lock()

    def client(self, tenant: TenantSettings) -> PublicClient:
        with self._lock:
            client = self._clients.get(tenant.name)
            if client is None:
                client = self._clients[tenant.name] = PublicClient(self.settings, tenant)
            return client

    def token(
        self, tenant: TenantSettings, signin: SavedSignIn, *, force: bool = False
    ) -> str | None:
        """A valid access token from ``signin``; None (and the sign-in forgotten) when it is
        unusable; ``AuthError`` when Entra ID could not answer (the sign-in is kept)."""
        try:
            cache = self.sealer.open(signin.sealed_cache)
        except SealError:
            self.drop(signin, "key_mismatch")
            return None
        result = self.client(tenant).silent(cache, signin.home_account_id, force=force)
        if result.token is not None:
            if result.cache is not None:
                self.store.update_signin_cache(
                    signin.tenant,
                    signin.user_id,
                    signin.home_account_id,
                    self.sealer.seal(result.cache),
                    self.clock(),
                )
            return result.token
        if result.dead:
            self.drop(signin, "refresh_refused")
            return None
        raise result.error or AuthError("Microsoft Entra ID gave no token and no reason.")

    def usable(self, tenant: TenantSettings, user_id: str) -> bool:
        """``user_id`` has a sign-in that yields a token now (refreshing it if needed)."""
        signin = self.store.get_signin(tenant.name, user_id)
        return signin is not None and self.token(tenant, signin) is not None

    def drop(self, signin: SavedSignIn, why: str) -> None:
        if self.read_only or not self.store.delete_signin(
            signin.tenant, signin.user_id, signin.home_account_id
        ):
            return
        if why == "key_mismatch":
            log.warning(
                "the saved Microsoft sign-in of Slack user %s (tenant %s) was encrypted with an "
                "APNS_TOKEN_KEY that is not configured: removed; they sign in again with %s signin",
                signin.user_id,
                signin.tenant,
                COMMAND,
            )
        else:
            log.warning(
                "Microsoft refused to refresh the saved sign-in of Slack user %s (tenant %s): "
                "removed; they sign in again with %s signin",
                signin.user_id,
                signin.tenant,
                COMMAND,
            )
        self.store.audit(
            signin.tenant,
            SIGNIN_DROPPED,
            "system",
            self.clock(),
            detail={"user": signin.user_id, "why": why},
        )


class UserTokens:
    """``TokenProvider`` acting as one Slack user (their own saved sign-in)."""

    def __init__(self, tokens: DelegatedTokens, tenant: TenantSettings, user_id: str) -> None:
        self._tokens = tokens
        self._tenant = tenant
        self._user_id = user_id
        self._rejected: str | None = None

    def token(self) -> str:
        signin = self._tokens.store.get_signin(self._tenant.name, self._user_id)
        force = self._rejected is not None
        token = self._tokens.token(self._tenant, signin, force=force) if signin else None
        if token is None:
            raise SignInRequiredError(
                f"<@{self._user_id}> is not signed in to Microsoft for {self._tenant.label} any "
                "more: press the button again (or type "
                f"`{COMMAND} signin`) and sign in with the code the bot sends.",
                error="signin_required",
            )
        self._rejected = None
        return token

    def invalidate(self, token: str) -> None:
        self._rejected = token

    def close(self) -> None:
        return None


class TenantReader:
    """``TokenProvider`` for reads: the tenant's most recently used sign-in that still works."""

    def __init__(
        self,
        tokens: DelegatedTokens,
        tenant: TenantSettings,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._tokens = tokens
        self._tenant = tenant
        self._on_close = on_close
        self._rejected: str | None = None
        self._last: tuple[str, str] | None = None  # (user id, token) handed out last

    def token(self) -> str:
        for signin in self._tokens.store.list_signins(self._tenant.name):
            force = self._last is not None and self._last == (signin.user_id, self._rejected)
            token = self._tokens.token(self._tenant, signin, force=force)
            if token is not None:
                self._last, self._rejected = (signin.user_id, token), None
                return token
        raise nobody_signed_in(self._tenant)

    def invalidate(self, token: str) -> None:
        self._rejected = token

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None


def open_reader(
    settings: Settings, tenant: TenantSettings, *, read_only: bool = False
) -> TenantReader:
    """A reader with its own store connection (for CLI commands; closed with the provider).
    ``read_only``: unusable sign-ins are skipped, not removed (``doctor`` only looks)."""
    sealer = build_sealer(settings.token_keys)
    if sealer is None:
        raise AuthError(f"Delegated sign-in for {tenant.label} needs APNS_TOKEN_KEY.")
    store = open_store(settings, sealer=sealer)
    tokens = DelegatedTokens(settings, store, sealer, _utcnow, read_only=read_only)
    return TenantReader(tokens, tenant, store.close)


def _utcnow() -> datetime:
    return datetime.now(UTC)
