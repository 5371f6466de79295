"""Microsoft Graph's ``deviceManagement/applePushNotificationCertificate``: one method per operation.

Also lists Intune's ADE and Apps and Books (VPP) tokens (parsing in ``bot.adapters.graph.tokens``),
and reads all of a tenant's watched items at once (``read_watched``: JSON batching,
``bot.adapters.graph.batch``).

One ``HttpGraphClient`` per tenant, safe to share between threads. Requests, retries and errors
are ``GraphTransport``'s (``bot.adapters.graph.transport``); the ADE and VPP token reads and
uploads are ``AppleTokenGraph``'s (``bot.adapters.graph.token_writes``), held as ``self.tokens``
and reached through the flat methods of the ``GraphClient`` port.

Tokens and certificate bodies never reach a log line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import httpx

from bot import __version__
from bot.adapters.entra.app_only import TokenProvider
from bot.adapters.entra.http import SignInHttpClient
from bot.adapters.entra.providers import build_token_provider
from bot.adapters.graph.batch import Batching, Wanted, read_batched
from bot.adapters.graph.retry import RetryPolicy
from bot.adapters.graph.timestamps import parse_timestamp as parse_timestamp
from bot.adapters.graph.token_writes import AppleTokenGraph
from bot.adapters.graph.transport import GraphTransport
from bot.adapters.tls import ssl_context
from bot.config import Settings, TenantSettings
from bot.config.model import CONNECT_TIMEOUT, DEFAULT_NETWORK_TIMEOUT
from bot.core.model import TenantCertificate
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError, GraphError
from bot.usecases.watched import WatchedRead, read_certificate, read_tokens

CERT_PATH = "deviceManagement/applePushNotificationCertificate"
CSR_PATH = f"{CERT_PATH}/downloadApplePushNotificationCertificateSigningRequest"
CERT_ACTION = "read the push certificate"
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_NETWORK_TIMEOUT, connect=CONNECT_TIMEOUT)
PUSH = CredentialKind.PUSH


class EmptyValueError(ApnsBotError, ValueError):
    """An update with an empty Apple ID or certificate (an empty certificate removes it)."""


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


class HttpGraphClient:
    """The operations of one tenant's Graph: the push certificate, the token lists, and (through
    ``self.tokens``) the ADE and VPP token reads and uploads."""

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
        self._owns_http = http is None
        self._on_close = on_close
        self._http = http or shared_http_client(ca_bundle, timeout=timeout)
        self._transport = GraphTransport(tenant, token_provider, self._http, retry=retry)
        self.tokens = AppleTokenGraph(self._transport)
        self._batching = Batching()  # the Graph bases that refused $batch, for this client's life

    # --- operations ----------------------------------------------------------------------------

    def get_certificate(self) -> TenantCertificate:
        return parse_certificate(self._transport.get_json(CERT_PATH, CERT_ACTION))

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
        response = self._transport.send("PATCH", CERT_PATH, action, json=body, writes=True)
        if response.status_code == 204 or not response.content:
            return self.get_certificate()
        return parse_certificate(self._transport.json(response, action))

    def download_csr(self) -> str:
        """Intune's certificate signing request for Apple's portal, exactly as Graph sends it."""
        action = "download Intune's certificate signing request"
        document = self._transport.get_json(CSR_PATH, action)
        value = document.get("value") if isinstance(document, dict) else None
        if not isinstance(value, str) or not value:
            raise GraphError(f"Microsoft Graph answered the request to {action} without a CSR.")
        return value

    # --- ADE and VPP tokens: the GraphClient port's flat names for ``self.tokens`` ---------------

    def list_ade_tokens(self) -> list[AppleToken]:
        """Every Automated Device Enrollment token (Graph beta, whatever ``GRAPH_URL`` names)."""
        return self.tokens.list_ade_tokens()

    def list_vpp_tokens(self) -> list[AppleToken]:
        """Every Apps and Books (VPP) token."""
        return self.tokens.list_vpp_tokens()

    def ade_public_key(self, token_id: str) -> str:
        return self.tokens.ade_public_key(token_id)

    def get_ade_token(self, token_id: str) -> AppleToken:
        return self.tokens.get_ade_token(token_id)

    def upload_ade_token(self, token_id: str, apple_id: str, content: str) -> None:
        self.tokens.upload_ade_token(token_id, apple_id, content)

    def get_vpp_token(self, token_id: str) -> AppleToken:
        return self.tokens.get_vpp_token(token_id)

    def upload_vpp_token(self, token_id: str, content: str) -> None:
        self.tokens.upload_vpp_token(token_id, content)

    def sync_vpp_licenses(self, token_id: str) -> None:
        self.tokens.sync_vpp_licenses(token_id)

    # --- the watch's read: one Graph request where possible -----------------------------------

    def read_watched(self, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
        """The certificate (``push``) and the token lists of ``kinds``, batched where they share
        a Graph version (``bot.adapters.graph.batch``); each item its value or its error."""
        t = self._transport
        wanted = [Wanted(PUSH, t.base, CERT_PATH, CERT_ACTION, parse_certificate)] if push else []
        wanted += [w for w in map(self.tokens.wanted, kinds) if w is not None]
        reads = read_batched(t, wanted, self._batching)
        return WatchedRead(
            read_certificate(reads[PUSH]) if push else None,
            {
                kind: read_tokens(kind, reads.get(kind, partial(_not_a_token, kind)))
                for kind in kinds
            },
        )

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


def _not_a_token(kind: CredentialKind) -> NoReturn:
    raise ValueError(f"{kind} is not a token kind")


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
    signin_http: SignInHttpClient | None = None,
) -> HttpGraphClient:
    """The Graph client for ``tenant``; with no ``token_provider``, app-only MSAL sign-in
    (owned by the client and closed with it). Nothing touches the network until the first call.
    ``http`` and ``signin_http`` (MSAL's) are connection pools shared with other tenants."""
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
    provider = build_token_provider(settings, tenant, signin_http=signin_http)
    return HttpGraphClient(
        tenant,
        provider,
        ca_bundle=settings.ca_bundle,
        retry=retry,
        on_close=provider.close,
        http=http,
        timeout=timeout,
    )
