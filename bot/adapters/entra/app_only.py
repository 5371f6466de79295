"""App-only sign-in to Microsoft Entra ID (client credentials) with MSAL.

``TokenProvider`` is the port the Graph client depends on; ``MsalAppTokenProvider`` implements it
with a client secret or a certificate (a PEM file holding the certificate and its private key). A
delegated (signed-in admin) mode can implement the same two methods later.

MSAL facts this module works around (../shared/DOMAIN.md section 4):

- Building the MSAL app performs OIDC discovery over the network and can raise, so it is built on
  the first token request, under a lock, and reused (its token cache lives inside it).
- A non-standard authority host (a proxy, the test fake) needs ``instance_discovery=False``.
- ``acquire_token_for_client`` returns error dicts instead of raising; they become ``AuthError``
  quoting the AADSTS description and saying what to do.
- MSAL gets a small HTTP client on urllib3's pools (``bot.adapters.entra.http``; never httpx: it
  breaks certificate credentials) that trusts ``SSL_CERT_FILE``, carries a timeout and raises
  requests' exception classes, which ``network_error`` reads.

Nothing here logs a secret, a private key or a token.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
import time
from typing import Any, Protocol

import msal
import requests

from bot.adapters.entra.client_certificate import ClientCertificate, load_client_certificate
from bot.adapters.entra.errors import auth_error, discovery_error
from bot.adapters.entra.http import SignInHttpClient, Timeout
from bot.config import Settings, TenantSettings
from bot.errors import AuthError

# MSAL tries to import the optional msal_extensions every time an app object is built. A failed
# import is not cached by Python, so with many tenants that search of sys.path, under the global
# import lock, serialised every sign-in. Recording the absence once (None in sys.modules is
# Python's documented "import fails at once") keeps MSAL's check and makes it free.
if importlib.util.find_spec("msal_extensions") is None:
    sys.modules.setdefault("msal_extensions", None)  # type: ignore[arg-type]

log = logging.getLogger(__name__)


def settings_timeout(settings: Settings) -> tuple[float, float]:
    """(connect, read) for every request MSAL makes, from ``APNS_NETWORK_TIMEOUT``."""
    return (settings.connect_timeout, settings.network_timeout)


def _seconds(timeout: Timeout) -> float:
    return max(timeout) if isinstance(timeout, tuple) else timeout


class TokenProvider(Protocol):
    """Hands out access tokens for Microsoft Graph."""

    def token(self) -> str:
        """A valid access token (cached until it nears expiry); raises ``AuthError``."""
        ...

    def invalidate(self, token: str) -> None:
        """Graph rejected ``token``: the next ``token()`` must fetch a fresh one."""
        ...


def _msal_computes_sha256_thumbprint() -> bool:
    """MSAL 1.35+ derives a SHA-256 thumbprint (PS256 assertion) from ``public_certificate``."""
    parts = re.findall(r"\d+", str(getattr(msal, "__version__", "0")))[:2]
    return tuple(int(p) for p in parts) >= (1, 35)


def timed_out(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is a timeout: a proxy's CONNECT that timed out is a
    ``ProxyError`` wrapping urllib3's timeout, not a ``requests.Timeout``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.Timeout | TimeoutError) or "timed out" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def network_error(exc: Exception, authority_host: str, timeout: Timeout) -> AuthError:
    """A failure to talk to Entra ID (5xx, TLS, timeout, connection) as one readable sentence."""
    where = f"https://{authority_host}"
    status: str | None = None
    if isinstance(exc, msal.exceptions.MsalServiceError):  # how MSAL reports a 5xx
        found = re.search(r"\b[45]\d\d\b", str(exc))
        status = found.group(0) if found else "5xx"
    elif isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = str(exc.response.status_code)
    if status is not None:
        return AuthError(
            f"Microsoft Entra ID at {where} answered HTTP {status}: the sign-in service is "
            "having trouble; try again in a few minutes."
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return AuthError(
            f"Could not verify the TLS certificate of {where}. If a proxy inspects TLS, set "
            "SSL_CERT_FILE to a PEM bundle holding its CA certificate."
        )
    if timed_out(exc):
        return AuthError(
            f"Microsoft Entra ID at {where} timed out: no answer (waited up to {_seconds(timeout):g} s). "
            "Check the network and the proxy settings (HTTPS_PROXY); APNS_NETWORK_TIMEOUT sets "
            "how long to wait."
        )
    detail = re.search(r"\[Errno [^\]]+\][^'\")]*", str(exc))
    reason = detail.group(0).strip() if detail else type(exc).__name__
    return AuthError(
        f"Could not reach Microsoft Entra ID at {where} ({reason}). Check the network, the "
        "proxy settings (HTTPS_PROXY) and AZURE_CLOUD / AZURE_AUTHORITY_HOST."
    )


TOKEN_REUSE_MARGIN = 300  # seconds: a token is handed out as is until this long before expiry


def _reuse_until(result: dict[str, Any]) -> float:
    """Until when (``time.monotonic()``) a fresh token may be reused without asking MSAL: its
    ``expires_in`` less ``TOKEN_REUSE_MARGIN`` (no reuse when MSAL did not say). A fleet check
    makes three Graph calls per tenant; asking MSAL's cache for each showed in its profile."""
    expires_in = result.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        return 0.0
    try:
        seconds = float(expires_in)
    except ValueError:
        return 0.0
    return time.monotonic() + seconds - TOKEN_REUSE_MARGIN if seconds > TOKEN_REUSE_MARGIN else 0.0


class MsalAppTokenProvider:
    """App-only tokens for one tenant's Graph (``<graph root>/.default``), thread-safe."""

    def __init__(
        self,
        settings: Settings,
        tenant: TenantSettings,
        *,
        timeout: Timeout | None = None,
        signin_http: SignInHttpClient | None = None,
    ) -> None:
        # a client passed in is shared with other tenants and owned by the caller
        self._shared_http = signin_http
        self._tenant = tenant
        self._ca_bundle = settings.ca_bundle
        self._timeout: Timeout = settings_timeout(settings) if timeout is None else timeout
        self._lock = threading.Lock()
        self._app: Any = None  # msal.ConfidentialClientApplication, built on first use
        self._http: SignInHttpClient | None = None
        self._certificate: ClientCertificate | None = None
        self._last_token: str | None = None
        self._reuse_until = 0.0  # time.monotonic() until which _last_token is handed out as is

    def token(self) -> str:
        with self._lock:
            if self._last_token is not None and time.monotonic() < self._reuse_until:
                return self._last_token  # MSAL's cache would answer the same, at more CPU
            app = self._ensure_app()
            try:
                result = app.acquire_token_for_client(scopes=[self._tenant.app_scope])
            except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
                raise self._network_error(exc) from exc
            except ValueError as exc:  # the token endpoint answered something that is not JSON
                raise AuthError(
                    f"The sign-in endpoint https://{self._tenant.authority_host} answered with "
                    "something that is not a token response: is a proxy or captive portal in the way?"
                ) from exc
            token = result.get("access_token") if isinstance(result, dict) else None
            if not isinstance(token, str) or not token:
                thumbprint = self._certificate.sha1_thumbprint if self._certificate else None
                raise auth_error(
                    result if isinstance(result, dict) else {}, self._tenant, thumbprint
                )
            if token != self._last_token:
                log.info(
                    "signed in to Entra ID as app %s (tenant %s)",
                    self._tenant.client_id,
                    self._tenant.name,
                )
            self._last_token = token
            self._reuse_until = _reuse_until(result)
            return token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._app is not None and token == self._last_token:
                self._app.remove_tokens_for_client()
                self._last_token = None
                self._reuse_until = 0.0

    def close(self) -> None:
        with self._lock:
            if self._http is not None and self._http is not self._shared_http:
                self._http.close()
            self._http = None
            self._app = None
            self._last_token = None
            self._reuse_until = 0.0

    def _credential(self) -> str | dict[str, str]:
        tenant = self._tenant
        if tenant.client_certificate_path is not None:
            self._certificate = load_client_certificate(tenant.client_certificate_path)
            credential = {
                "private_key": self._certificate.private_key_pem,
                "public_certificate": self._certificate.certificate_pem,
            }
            if not _msal_computes_sha256_thumbprint():
                credential["thumbprint"] = self._certificate.sha1_thumbprint
            return credential
        if tenant.client_secret is not None:
            return tenant.client_secret.reveal()
        raise AuthError(
            f"Tenant {tenant.label} has no credential: set AZURE_CLIENT_SECRET or "
            "AZURE_CLIENT_CERTIFICATE_PATH."
        )

    def _ensure_app(self) -> Any:
        if self._app is not None:
            return self._app
        credential = self._credential()
        http = self._shared_http or SignInHttpClient(self._ca_bundle, self._timeout)
        tenant = self._tenant
        try:
            app = msal.ConfidentialClientApplication(
                tenant.client_id,
                client_credential=credential,
                authority=tenant.authority,
                http_client=http,
                # an overridden host is unknown to Microsoft's instance discovery service
                instance_discovery=None if tenant.authority_is_known else False,
                token_cache=msal.TokenCache(),
            )
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            if http is not self._shared_http:
                http.close()
            raise self._network_error(exc) from exc
        except (ValueError, KeyError, RuntimeError) as exc:
            if http is not self._shared_http:
                http.close()
            raise discovery_error(exc, tenant) from exc
        self._app, self._http = app, http
        return app

    def _network_error(self, exc: Exception) -> AuthError:
        return network_error(exc, self._tenant.authority_host, self._timeout)


class OwnedTokenProvider(TokenProvider, Protocol):
    """A provider its owner closes (it may hold connections or a database connection)."""

    def close(self) -> None: ...
