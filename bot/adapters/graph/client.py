"""Microsoft Graph's ``deviceManagement/applePushNotificationCertificate``: one method per operation.

Also lists Intune's ADE and Apps and Books (VPP) tokens (parsing in ``bot.adapters.graph.tokens``).

One ``HttpGraphClient`` per tenant, safe to share between threads. Every call carries a fresh
``client-request-id``; 429, 503, 504 and transport errors are retried a bounded number of times,
honouring ``Retry-After``. A PATCH is retried only when the server cannot have processed it (429,
or a connection that never opened): Intune sometimes applies an upload and still answers 5xx, so
after any other failure the caller reads the certificate back before deciding anything.

Tokens and certificate bodies never reach a log line.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import requests

from bot import __version__
from bot.adapters.entra.app_only import TokenProvider
from bot.adapters.entra.providers import build_token_provider
from bot.adapters.graph.errors import Call, error_from_response, error_from_transport, tls_error
from bot.adapters.graph.retry import RetryPolicy
from bot.adapters.graph.token_writes import AppleTokenWrites
from bot.adapters.graph.tokens import (
    ADE_ACTION,
    ADE_PATH,
    VPP_ACTION,
    VPP_PATH,
    beta_base,
    parse_ade_token,
    parse_vpp_token,
    read_collection,
)
from bot.adapters.tls import ssl_context
from bot.config import Settings, TenantSettings
from bot.config.model import CONNECT_TIMEOUT, DEFAULT_NETWORK_TIMEOUT
from bot.core.model import TenantCertificate
from bot.core.tokens import AppleToken
from bot.errors import ApnsBotError, GraphError

log = logging.getLogger(__name__)

CERT_PATH = "deviceManagement/applePushNotificationCertificate"
CSR_PATH = f"{CERT_PATH}/downloadApplePushNotificationCertificateSigningRequest"
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_NETWORK_TIMEOUT, connect=CONNECT_TIMEOUT)
RETRY_STATUSES = frozenset({429, 503, 504})
# An upload may take Intune longer than a read: its answer gets this long (connecting does not).
# A write that times out anyway is settled by reading the certificate back, never by guessing.
WRITE_READ_TIMEOUT = 60.0
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class EmptyValueError(ApnsBotError, ValueError):
    """An update with an empty Apple ID or certificate (an empty certificate removes it)."""


def parse_timestamp(value: object) -> datetime | None:
    """A Graph DateTimeOffset (any number of fractional digits) as an aware UTC datetime.

    ``None``, empty strings and ``0001-01-01`` (.NET's "no value") give ``None``; anything else
    that is not a timestamp raises ``ValueError``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _TIMESTAMP.match(str(value).strip())
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    base, fraction, offset = match.groups()
    text = base + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    if offset and offset.upper() != "Z":
        text += offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
    moment = datetime.fromisoformat(text)
    if moment.year <= 1:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(entity: dict[str, Any], key: str) -> str | None:
    value = entity.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def parse_certificate(document: object) -> TenantCertificate:
    """The entity Graph returns (directly, or inside the docs' ``{"value": {...}}``)."""
    if isinstance(document, dict) and isinstance(document.get("value"), dict):
        document = document["value"]
    if not isinstance(document, dict):
        raise GraphError("Microsoft Graph answered the certificate read with something unexpected.")
    try:
        expires_at = parse_timestamp(document.get("expirationDateTime"))
    except ValueError as exc:
        raise GraphError(
            "Microsoft Graph reported an expiry apns-bot cannot read: "
            f"{document.get('expirationDateTime')!r}."
        ) from exc
    try:
        last_modified = parse_timestamp(document.get("lastModifiedDateTime"))
    except ValueError:
        last_modified = None  # informational only
    return TenantCertificate(
        apple_id=_text(document, "appleIdentifier"),
        topic=_text(document, "topicIdentifier"),
        serial=_text(document, "certificateSerialNumber"),
        expires_at=expires_at,
        upload_status=_text(document, "certificateUploadStatus"),
        upload_failure_reason=_text(document, "certificateUploadFailureReason"),
        last_modified=last_modified,
    )


class HttpGraphClient(AppleTokenWrites):
    """The push-certificate operations of one tenant's Graph (ADE and VPP token uploads, key
    download and read-backs: ``AppleTokenWrites``)."""

    def __init__(
        self,
        tenant: TenantSettings,
        token_provider: TokenProvider,
        *,
        ca_bundle: Path | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_close: Callable[[], None] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """``http``: a client shared with other tenants (owned by the caller), so a fleet reuses
        a pool of connections instead of opening one TLS connection per tenant."""
        self.tenant = tenant
        self._tokens = token_provider
        self._base = tenant.graph_url.rstrip("/") + "/"
        self._owns_http = http is None
        self._retry = retry or RetryPolicy()
        self._on_close = on_close
        self._http = http or shared_http_client(ca_bundle, timeout=timeout)
        connect = self._http.timeout.connect
        self._write_timeout = httpx.Timeout(WRITE_READ_TIMEOUT, connect=connect)

    # --- operations ----------------------------------------------------------------------------

    def get_certificate(self) -> TenantCertificate:
        response = self._send("GET", CERT_PATH, "read the push certificate")
        return parse_certificate(self._json(response, "read the push certificate"))

    def update_certificate(self, apple_id: str, certificate_pem: str) -> TenantCertificate:
        """Upload a renewed certificate; returns the entity as Intune derived it."""
        if not apple_id or not apple_id.strip():
            raise EmptyValueError("Refusing to upload: the Apple ID is empty.")
        if not certificate_pem or not certificate_pem.strip():
            raise EmptyValueError(
                "Refusing to upload: the certificate is empty (an empty certificate would remove "
                "the tenant's push certificate)."
            )
        body = {"appleIdentifier": apple_id.strip(), "certificate": certificate_pem}
        action = "upload the push certificate"
        response = self._send("PATCH", CERT_PATH, action, json=body, writes=True)
        if response.status_code == 204 or not response.content:
            return self.get_certificate()
        return parse_certificate(self._json(response, action))

    def download_csr(self) -> str:
        """Intune's certificate signing request for Apple's portal, exactly as Graph sends it."""
        action = "download Intune's certificate signing request"
        document = self._json(self._send("GET", CSR_PATH, action), action)
        value = document.get("value") if isinstance(document, dict) else None
        if not isinstance(value, str) or not value:
            raise GraphError(f"Microsoft Graph answered the request to {action} without a CSR.")
        return value

    def list_ade_tokens(self) -> list[AppleToken]:
        """Every Automated Device Enrollment token (Graph beta, whatever ``GRAPH_URL`` names)."""
        first = beta_base(self._base) + ADE_PATH
        entities = read_collection(self._get_json, first, ADE_ACTION, self.tenant.graph_root)
        return [parse_ade_token(entity, parse_timestamp) for entity in entities]

    def list_vpp_tokens(self) -> list[AppleToken]:
        """Every Apps and Books (VPP) token."""
        entities = read_collection(self._get_json, VPP_PATH, VPP_ACTION, self.tenant.graph_root)
        return [parse_vpp_token(entity, parse_timestamp) for entity in entities]

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> HttpGraphClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------

    def _timestamp(self, value: object) -> datetime | None:
        return parse_timestamp(value)

    def _get_json(self, path: str, action: str) -> Any:
        return self._json(self._send("GET", path, action), action)

    def _json(self, response: httpx.Response, action: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(
                f"Microsoft Graph answered the request to {action} with something that is not JSON.",
                status=response.status_code,
                request_id=response.headers.get("request-id"),
            ) from exc

    def _send(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: dict[str, str] | None = None,
        writes: bool = False,
        thing: str = "certificate",
    ) -> httpx.Response:
        call = Call(method, action, self.tenant.client_id, self.tenant.tenant_id, writes, thing)
        absolute = path.startswith(("https://", "http://"))  # a nextLink, checked by the caller
        policy = self._retry
        waited = 0.0
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            client_request_id = str(uuid.uuid4())
            token = self._tokens.token()
            headers = {
                "Authorization": f"Bearer {token}",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
            }
            try:
                response = self._http.request(
                    method,
                    path if absolute else self._base + path,
                    json=json,
                    headers=headers,
                    timeout=self._write_timeout if writes else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                url = self.tenant.graph_root
                fatal = tls_error(exc, url, client_request_id)
                if fatal is not None:
                    raise fatal from exc
                # A connection that never opened cannot have delivered a write.
                unsent = isinstance(
                    exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                # A host that stayed silent for a whole timeout is reported, not waited on again:
                # behind a dead proxy every retry would add the full timeout to the command.
                silent = isinstance(exc, httpx.TimeoutException)
                delay = policy.backoff(attempt)
                if silent or (writes and not unsent) or not self._may_retry(attempt, waited, delay):
                    raise error_from_transport(exc, call, url, client_request_id, attempt) from exc
                log.warning(
                    "graph %s %s: %s (client-request-id %s); retry %d in %.1f s",
                    method, path, type(exc).__name__, client_request_id, attempt, delay,
                )  # fmt: skip
                policy.sleep(delay)
                waited += delay
                continue
            except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
                raise GraphError(
                    f"Microsoft Graph sent an unreadable answer to {method} {path} "
                    f"({type(exc).__name__}); try again.",
                    client_request_id=client_request_id,
                ) from exc
            status = response.status_code
            log.debug(
                "graph %s %s -> %d (client-request-id %s)", method, path, status, client_request_id
            )
            if status == 401 and not refreshed:
                refreshed = True  # the token may have been revoked or expired early: once more
                self._tokens.invalidate(token)
                attempt -= 1
                continue
            if response.is_success:
                return response
            retryable = status == 429 or (status in RETRY_STATUSES and not writes)
            if not retryable:
                raise error_from_response(response, call, client_request_id, attempt)
            asked = policy.retry_after(response.headers.get("Retry-After"))
            delay = policy.backoff(attempt) if asked is None else asked
            if not self._may_retry(attempt, waited, delay):
                too_long = (
                    asked if asked is not None and waited + asked > policy.max_total_wait else None
                )
                raise error_from_response(response, call, client_request_id, attempt, too_long)
            log.warning(
                "graph %s %s -> %d (client-request-id %s); retry %d in %.1f s",
                method, path, status, client_request_id, attempt, delay,
            )  # fmt: skip
            policy.sleep(delay)
            waited += delay

    def _may_retry(self, attempt: int, waited: float, delay: float) -> bool:
        policy = self._retry
        return attempt < policy.max_attempts and waited + delay <= policy.max_total_wait


def graph_timeout(settings: Settings) -> httpx.Timeout:
    """Connect (TLS handshake included) and each read/write wait, from ``APNS_NETWORK_TIMEOUT``."""
    return httpx.Timeout(settings.network_timeout, connect=settings.connect_timeout)


def shared_http_client(
    ca_bundle: Path | None, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT, connections: int = 20
) -> httpx.Client:
    """The HTTP client Graph calls go through; share one across tenants with ``connections``
    at least the number of tenants read at once."""
    return httpx.Client(
        verify=ssl_context(ca_bundle),
        timeout=timeout,
        headers={"Accept": "application/json", "User-Agent": f"apns-bot/{__version__}"},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


def build_graph_client(
    settings: Settings,
    tenant: TenantSettings,
    *,
    token_provider: TokenProvider | None = None,
    retry: RetryPolicy | None = None,
    http: httpx.Client | None = None,
    session: requests.Session | None = None,
) -> HttpGraphClient:
    """The Graph client for ``tenant``; with no ``token_provider``, app-only MSAL sign-in
    (owned by the client and closed with it). Nothing touches the network until the first call.
    ``http`` and ``session`` (MSAL's) are connection pools shared with other tenants."""
    timeout = graph_timeout(settings)
    if token_provider is not None:
        return HttpGraphClient(
            tenant,
            token_provider,
            ca_bundle=settings.ca_bundle,
            retry=retry,
            http=http,
            timeout=timeout,
        )
    provider = build_token_provider(settings, tenant, session=session)
    return HttpGraphClient(
        tenant,
        provider,
        ca_bundle=settings.ca_bundle,
        retry=retry,
        on_close=provider.close,
        http=http,
        timeout=timeout,
    )
