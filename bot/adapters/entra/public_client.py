"""MSAL's public client for delegated sign-in: device code flow one step at a time, and refresh.

Nothing here blocks for longer than one HTTP exchange: ``start`` asks Entra ID for a code,
``poll`` asks the token endpoint once (``exit_condition=lambda flow: True``) and says what the
answer means, ``silent`` returns a cached access token or redeems the refresh token. State lives
with the caller: the flow dict (plain JSON, holding the device code) and the serialized MSAL token
cache are sealed and stored by ``bot.usecases.signins`` / ``bot.adapters.entra.delegated``; this module keeps
only MSAL's discovery answers (``http_cache``, no tokens), so app objects are cheap to rebuild.

Shown to people: ``user_code`` and ``verification_uri`` only. Never logged: the device code, any
token, the cache. MSAL facts (../shared/DOMAIN.md section 4) as in ``bot.adapters.entra.app_only``.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msal
import requests

from bot.adapters.entra.app_only import network_error, settings_timeout
from bot.adapters.entra.errors import AADSTS, APP_PAGE, discovery_error
from bot.adapters.entra.http import SignInHttpClient, Timeout
from bot.config import Settings, TenantSettings
from bot.core.signin import PollOutcome, PollResult, StartedFlow, classify_poll
from bot.errors import AuthError

# refresh answers meaning the saved sign-in is dead (revoked, expired, needs the person again)
DEAD_SIGNIN_ERRORS = frozenset({"invalid_grant", "interaction_required"})
_DEVICE_CODE = re.compile(r'("(?:device_code|code)": )"[^"]*"')


class _HideDeviceCode(logging.Filter):
    """MSAL's token cache logs each token request at DEBUG, masking tokens but not the device
    code it was redeemed with: with LOG_LEVEL=DEBUG that would reach the log. Mask it too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _DEVICE_CODE.sub(r'\1"********"', a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def _hide_device_codes() -> None:
    target = logging.getLogger("msal.token_cache")
    if not any(isinstance(f, _HideDeviceCode) for f in target.filters):
        target.addFilter(_HideDeviceCode())


_HINTS = {
    "7000218": (
        f"The app is not a public client: under {APP_PAGE} → Authentication → Advanced settings, "
        "set *Allow public client flows* to Yes."
    ),
    "65001": (
        "The delegated permission DeviceManagementServiceConfig.ReadWrite.All has not been "
        f"consented: under {APP_PAGE} → API permissions, grant admin consent."
    ),
    "700016": (
        "No app with this client id exists in the tenant: check AZURE_CLIENT_ID and AZURE_TENANT_ID."
    ),
    "90002": "The tenant was not found in this cloud: check AZURE_TENANT_ID and AZURE_CLOUD.",
    "50020": "That account belongs to another directory: sign in with a work account of this tenant.",
    "53003": "A Conditional Access policy blocked the sign-in: ask an Entra admin.",
    "700082": "The saved sign-in expired after a long time unused: sign in again.",
    "50173": "The saved sign-in was revoked (password change or admin action): sign in again.",
}


@dataclass(frozen=True)
class SilentResult:
    token: str | None = field(default=None, repr=False)
    cache: str | None = field(default=None, repr=False)  # changed cache (refreshed): store it
    dead: bool = False  # the sign-in can no longer be refreshed: forget it
    error: AuthError | None = None


def delegated_error(result: Mapping[str, Any], tenant: TenantSettings, action: str) -> AuthError:
    """Entra's error answer as a sentence quoting its AADSTS line, with what to do."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    first_line = description.replace("\r\n", "\n").split("\n", 1)[0].strip()
    match = AADSTS.search(first_line)
    codes = result.get("error_codes")
    code = match.group(1) if match else (str(codes[0]) if isinstance(codes, list) and codes else "")
    message = f"Microsoft Entra ID refused to {action} for {tenant.label}: {first_line or error}"
    if code in _HINTS:
        message += f"\nWhat to do: {_HINTS[code]}"
    if result.get("correlation_id"):
        message += f"\n(Correlation ID {result['correlation_id']}, for Microsoft support.)"
    return AuthError(message, error=error)


class PublicClient:
    """Delegated sign-in for one tenant's app registration (thread-safe: each call has its own
    MSAL app, token cache and copy of the discovery cache)."""

    def __init__(
        self, settings: Settings, tenant: TenantSettings, *, timeout: Timeout | None = None
    ) -> None:
        self.tenant = tenant
        self._ca_bundle = settings.ca_bundle
        self._timeout: Timeout = settings_timeout(settings) if timeout is None else timeout
        # OIDC/instance discovery answers (no tokens), reused across calls. MSAL guards this
        # mapping with one lock per app, so apps used at once must not share it: each call works
        # on its own deep copy, written back whole when it is done. Last writer wins: at worst a
        # discovery answer is fetched again, or a Retry-After MSAL noted during one call is not
        # seen by a call that overlapped it (Entra then answers 429 again, and that is handled).
        self._http_cache: dict[str, Any] = {}
        self._http_cache_lock = threading.Lock()
        _hide_device_codes()

    def start(self) -> StartedFlow:
        """Ask Entra ID for a device code and a user code (network; raises ``AuthError``)."""
        with self._app(msal.SerializableTokenCache()) as app:
            flow = self._call(app.initiate_device_flow, scopes=[self.tenant.delegated_scope])
        if not isinstance(flow, dict) or not flow.get("user_code") or not flow.get("device_code"):
            raise delegated_error(
                flow if isinstance(flow, dict) else {}, self.tenant, "start a sign-in"
            )
        return StartedFlow(
            flow=flow,
            user_code=str(flow["user_code"]),
            verification_uri=str(flow.get("verification_uri") or flow.get("verification_url")),
            interval=int(flow.get("interval") or 5),
            expires_in=int(flow.get("expires_in") or 900),
        )

    def poll(self, flow: dict[str, Any]) -> PollResult:
        """Ask the token endpoint once whether the person has signed in (raises ``AuthError`` only
        when Entra ID could not be reached: the caller polls again later)."""
        flow = dict(flow)
        # The caller paces the polls (one per interval, across restarts); MSAL's own "too soon"
        # guard would only see this process's clock.
        flow.pop("latest_attempt_at", None)
        cache = msal.SerializableTokenCache()
        with self._app(cache) as app:
            result = self._call(
                app.acquire_token_by_device_flow, flow, exit_condition=lambda _flow: True
            )
            outcome = classify_poll(result)
            if outcome is not PollOutcome.SIGNED_IN:
                error = None
                if outcome not in (PollOutcome.PENDING, PollOutcome.SLOW_DOWN):
                    error = delegated_error(result, self.tenant, "complete the sign-in")
                return PollResult(outcome, flow, error=error)
            claims = result.get("id_token_claims") or {}
            accounts = app.get_accounts()
        username = claims.get("preferred_username") or claims.get("upn")
        home = accounts[0].get("home_account_id") if accounts else None
        return PollResult(
            outcome,
            flow,
            username=str(username) if username else None,
            home_account_id=str(home) if home else None,
            cache=cache.serialize(),
        )

    def silent(self, cache_text: str, home_account_id: str, *, force: bool = False) -> SilentResult:
        """A token from the saved cache, refreshed with the refresh token when it has expired
        (or when ``force``: Graph rejected the cached one)."""
        cache = msal.SerializableTokenCache()
        cache.deserialize(cache_text)
        with self._app(cache) as app:
            accounts = [
                a for a in app.get_accounts() if a.get("home_account_id") == home_account_id
            ]
            if not accounts:
                return SilentResult(dead=True)
            result = self._call(
                app.acquire_token_silent_with_error,
                [self.tenant.delegated_scope],
                accounts[0],
                force_refresh=force,
            )
        if not result:
            return SilentResult(dead=True)
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return SilentResult(token, cache.serialize() if cache.has_state_changed else None)
        error = delegated_error(result, self.tenant, "refresh a saved sign-in")
        return SilentResult(dead=str(result.get("error")) in DEAD_SIGNIN_ERRORS, error=error)

    # --- plumbing ------------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise network_error(exc, self.tenant.authority_host, self._timeout) from exc
        except ValueError as exc:  # the endpoint answered something that is not JSON
            raise AuthError(
                f"The sign-in endpoint https://{self.tenant.authority_host} answered with "
                "something that is not a token response: is a proxy or captive portal in the way?"
            ) from exc

    @contextmanager
    def _app(self, cache: Any) -> Iterator[Any]:
        tenant = self.tenant
        with self._http_cache_lock:
            http_cache = copy.deepcopy(self._http_cache)
        http = SignInHttpClient(self._ca_bundle, self._timeout)
        try:
            try:
                app = msal.PublicClientApplication(
                    tenant.client_id,
                    authority=tenant.authority,
                    http_client=http,
                    instance_discovery=None if tenant.authority_is_known else False,
                    token_cache=cache,
                    http_cache=http_cache,
                )
            except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
                raise network_error(exc, tenant.authority_host, self._timeout) from exc
            except (ValueError, KeyError, RuntimeError) as exc:
                raise discovery_error(exc, tenant) from exc
            yield app
        finally:
            http.close()
            with self._http_cache_lock:
                self._http_cache = http_cache
