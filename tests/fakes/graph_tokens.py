"""The fake Graph's ADE and Apps and Books (VPP) tokens: shapes, per-tenant state and paging.

Intune's other yearly Apple credentials (../shared/DOMAIN.md section 7), as Graph lists them:

- ``GET /beta/deviceManagement/depOnboardingSettings`` (beta only: v1.0 answers 400 like Graph);
- ``GET /{v1.0,beta}/deviceAppManagement/vppTokens`` (beta adds ``displayName``, ``locationName``).

Both are collections (``{"@odata.context", "value": [...]}``) cut into pages of ``page_size``
items, each page but the last carrying an absolute ``@odata.nextLink`` with an opaque
``$skiptoken``. Property names are Graph's, exactly. Every date is an offset from the suite's
anchor ``T0``. ``deny(kind)`` makes one kind answer 403 (as when the app lacks the permission for
it) while the other kinds still read; ``not_applicable(kind)`` makes it answer Graph's 400
``BadRequest`` "Request not applicable to target tenant." (what Graph answers where Intune's
feature behind the request is not usable in the tenant).
"""

from __future__ import annotations

import base64
import threading
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

from tests.clock import T0, iso
from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_faults import forbidden, graph_error
from tests.fakes.https import RecordedRequest, Response

ADE_PATH = "/deviceManagement/depOnboardingSettings"
VPP_PATH = "/deviceAppManagement/vppTokens"
TokenKind = Literal["ade", "vpp"]
PATHS: dict[TokenKind, str] = {"ade": ADE_PATH, "vpp": VPP_PATH}
VERSIONS: dict[TokenKind, tuple[str, ...]] = {"ade": ("beta",), "vpp": ("beta", "v1.0")}
DEFAULT_PAGE_SIZE = 100  # far more than a tenant has: one page unless a test asks for less
NOT_APPLICABLE = "Request not applicable to target tenant."
BETA_ONLY_VPP = ("displayName", "locationName", "roleScopeTagIds", "dataSharingConsentGranted")

# The default tenant's tokens, as offsets from T0: both healthy, renewed months ago.
DEFAULT_ADE_EXPIRY = T0 + timedelta(days=241, hours=6, minutes=12, seconds=40)
DEFAULT_VPP_EXPIRY = T0 + timedelta(days=188, hours=1, minutes=3, seconds=9)


def ade_token(
    *,
    id: str = "0f6b3c9a-2d41-4e8b-9b7a-5c1d3e2f4a60_9C2F1A7E4B3D2C1E",
    name: str = "Contoso ABM",
    apple_id: str = "abm-admin@contoso.example",
    expires_at: Any = DEFAULT_ADE_EXPIRY,
    last_sync: Any = T0 - timedelta(hours=4, minutes=17),
    sync_error_code: int = 0,
    synced_devices: int = 412,
    token_type: str = "dep",
) -> dict[str, Any]:
    """A ``depOnboardingSetting`` as Graph beta lists it (``None`` dates are sent as null)."""
    return {
        "id": id,
        "appleIdentifier": apple_id,
        "tokenExpirationDateTime": _date(expires_at),
        "lastModifiedDateTime": shapes.odata_timestamp(T0 - timedelta(days=124, hours=3)),
        "lastSuccessfulSyncDateTime": _date(last_sync),
        "lastSyncTriggeredDateTime": _date(last_sync),
        "shareTokenWithSchoolDataSyncService": False,
        "lastSyncErrorCode": sync_error_code,
        "tokenType": token_type,
        "tokenName": name,
        "syncedDeviceCount": synced_devices,
        "dataSharingConsentGranted": True,
        "roleScopeTagIds": ["0"],
    }


def vpp_token(
    *,
    id: str = "7d0e4b2a-9c61-4f3d-8a5e-1b2c3d4e5f60",
    organization: str = "Contoso Ltd",
    display_name: str | None = "Contoso Apps and Books",
    apple_id: str = "apps-admin@contoso.example",
    expires_at: Any = DEFAULT_VPP_EXPIRY,
    state: str = "valid",
    last_sync_status: str = "completed",
    last_sync: Any = T0 - timedelta(hours=9, minutes=2),
    account_type: str = "business",
) -> dict[str, Any]:
    """A ``vppToken`` as Graph beta lists it; ``for_version`` drops what v1.0 lacks."""
    return {
        "id": id,
        "organizationName": organization,
        "vppTokenAccountType": account_type,
        "appleId": apple_id,
        "expirationDateTime": _date(expires_at),
        "lastSyncDateTime": _date(last_sync),
        "token": None,  # Graph never sends the token back
        "lastModifiedDateTime": shapes.odata_timestamp(T0 - timedelta(days=177, hours=5)),
        "state": state,
        "lastSyncStatus": last_sync_status,
        "automaticallyUpdateApps": True,
        "countryOrRegion": "us",
        "displayName": display_name,
        "locationName": "Contoso HQ",
        "roleScopeTagIds": ["0"],
        "dataSharingConsentGranted": True,
    }


def without_id(token: dict[str, Any], id: Any = None) -> dict[str, Any]:
    """``token`` with no usable ``id``: left out (``id=None``) or sent as given (``""``, ``" "``,
    ``null`` via ``id=...`` below). Graph documents ``id`` on every entity; this is the defect
    the bot must survive, not a shape Microsoft describes."""
    shown = {k: v for k, v in token.items() if k != "id"}
    if id is not None:
        shown["id"] = None if id is ... else id
    return shown


def for_version(kind: TokenKind, token: dict[str, Any], version: str) -> dict[str, Any]:
    if kind == "vpp" and version == "v1.0":
        return {k: v for k, v in token.items() if k not in BETA_ONLY_VPP}
    return dict(token)


def _date(moment: Any) -> Any:
    return iso(moment) if hasattr(moment, "astimezone") else moment  # text passes as given


def skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset={offset}".encode()).decode().rstrip("=")


def offset_of(query: str) -> int | None:
    """The page's first index from ``$skiptoken`` (0 without one; ``None``: not ours)."""
    token = dict(parse_qsl(query)).get("$skiptoken")
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("offset="))
    except ValueError:
        return None


class AppleTokens:
    """Per-tenant ADE and VPP tokens, which kinds answer 403, and the page size (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, TokenKind], list[dict[str, Any]]] = {}
        self._denied: set[tuple[str, TokenKind]] = set()
        self._not_applicable: set[tuple[str, TokenKind]] = set()
        self.page_size = DEFAULT_PAGE_SIZE

    def add_tenant(self, tenant_id: str) -> None:
        """The default tokens: one healthy ADE token and one healthy VPP token."""
        self.set(tenant_id, "ade", [ade_token()])
        self.set(tenant_id, "vpp", [vpp_token()])

    def set(self, tenant_id: str, kind: TokenKind, tokens: list[dict[str, Any]]) -> None:
        with self._lock:
            self._tokens[(tenant_id, kind)] = [dict(token) for token in tokens]

    def get(self, tenant_id: str, kind: TokenKind) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(token) for token in self._tokens.get((tenant_id, kind), [])]

    def find(self, tenant_id: str, kind: TokenKind, token_id: str) -> dict[str, Any] | None:
        """One token by id (a copy), or ``None``."""
        with self._lock:
            for token in self._tokens.get((tenant_id, kind), []):
                if token.get("id") == token_id:
                    return dict(token)
        return None

    def update(self, tenant_id: str, kind: TokenKind, token_id: str, **properties: Any) -> bool:
        """Change one token's Graph properties; False when there is no such token."""
        with self._lock:
            for token in self._tokens.get((tenant_id, kind), []):
                if token.get("id") == token_id:
                    token.update(properties)
                    return True
        return False

    def deny(self, tenant_id: str, kind: TokenKind, denied: bool = True) -> None:
        with self._lock:
            if denied:
                self._denied.add((tenant_id, kind))
            else:
                self._denied.discard((tenant_id, kind))

    def not_applicable(self, tenant_id: str, kind: TokenKind, refused: bool = True) -> None:
        """``kind`` answers 400 "Request not applicable to target tenant." until undone."""
        with self._lock:
            if refused:
                self._not_applicable.add((tenant_id, kind))
            else:
                self._not_applicable.discard((tenant_id, kind))

    def denied(self, tenant_id: str, kind: TokenKind) -> bool:
        with self._lock:
            return (tenant_id, kind) in self._denied

    def page(
        self, base_url: str, version: str, tenant_id: str, kind: TokenKind, offset: int
    ) -> dict[str, Any]:
        """One page of the collection, as Graph answers it."""
        with self._lock:
            size = max(1, self.page_size)
            items = self._tokens.get((tenant_id, kind), [])
            chosen = [for_version(kind, token, version) for token in items[offset : offset + size]]
            more = offset + size < len(items)
        path = PATHS[kind]
        document: dict[str, Any] = {
            "@odata.context": f"{base_url}/{version}/$metadata#{path.strip('/')}",
            "value": chosen,
        }
        if more:
            link = f"{base_url}/{version}{path}?$skiptoken={skiptoken(offset + size)}"
            document["@odata.nextLink"] = link
        return document

    def answer(
        self,
        request: RecordedRequest,
        version: str,
        base_url: str,
        tenant_id: str,
        readable: bool,
        ids: tuple[str, str],
    ) -> Response | None:
        """Graph's answer to ``request`` if it lists ADE or VPP tokens, else ``None``.
        ``readable``: the app may read Intune's service configuration at all."""
        path = request.path[len(version) + 1 :].lower().rstrip("/")
        kind = next((k for k, p in PATHS.items() if p.lower() == path), None)
        if kind is None or request.method != "GET" or version not in VERSIONS[kind]:
            return None
        if not readable or self.denied(tenant_id, kind):
            return forbidden(shapes.READ_SCOPES, *ids)
        with self._lock:
            inapplicable = (tenant_id, kind) in self._not_applicable
        if inapplicable:
            return graph_error(400, "BadRequest", NOT_APPLICABLE, *ids)
        offset = offset_of(request.query)
        if offset is None:
            return graph_error(400, "BadRequest", "The skip token is not valid.", *ids)
        return Response(200, self.page(base_url, version, tenant_id, kind, offset))
