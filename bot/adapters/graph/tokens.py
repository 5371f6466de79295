"""Intune's ADE and Apps and Books (VPP) tokens on Microsoft Graph: listing and parsing.

- ADE: ``GET /beta/deviceManagement/depOnboardingSettings`` (beta only, whatever ``GRAPH_URL``
  names); VPP: ``GET {GRAPH_URL}/deviceAppManagement/vppTokens`` (v1.0 or beta; beta adds
  ``displayName``).
- Both are collections: every ``@odata.nextLink`` is followed, but only on the Graph host the
  tenant is configured for (the bearer token goes nowhere else), and a bounded number of times.
- Requests go through ``HttpGraphClient``'s retry and error handling: a 403 names the
  ``DeviceManagementServiceConfig.Read.All`` permission.

Only what the issue names is kept: the token itself never leaves Graph. A listed token without an
``id`` is skipped with a warning (``listed_tokens``): ids key its once-only notices and its
renewal, so it could be neither reminded once nor renewed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import GraphError

log = logging.getLogger(__name__)

ADE_PATH = "deviceManagement/depOnboardingSettings"
VPP_PATH = "deviceAppManagement/vppTokens"
ADE_ACTION = "read the Automated Device Enrollment (ADE) tokens"
VPP_ACTION = "read the Apps and Books (VPP) tokens"
MAX_PAGES = 50  # a tenant has a handful of tokens; more pages than this is a loop
_VERSION_TAIL = re.compile(r"/v1\.0/$")

Fetch = Callable[[str, str], Any]
"""``(path under GRAPH_URL, or an absolute nextLink; action) -> the answer's JSON``."""
Timestamp = Callable[[object], datetime | None]
Parse = Callable[[dict[str, Any], Timestamp], AppleToken]


def beta_base(base: str) -> str:
    """``GRAPH_URL`` (ending in ``/``) on Graph's beta endpoint: ADE tokens are beta only."""
    return _VERSION_TAIL.sub("/beta/", base)


def read_collection(fetch: Fetch, first: str, action: str, root: str) -> list[dict[str, Any]]:
    """Every item of a Graph collection, following ``@odata.nextLink`` on ``root`` only."""
    return collect_pages(fetch, fetch(first, action), action, root)


def collect_pages(fetch: Fetch, document: Any, action: str, root: str) -> list[dict[str, Any]]:
    """Every item of a collection whose first page is ``document`` (e.g. a batched answer's
    body): the next pages are fetched as ``read_collection`` fetches them."""
    items: list[dict[str, Any]] = []
    url = ""
    for page in range(MAX_PAGES):
        if page:
            document = fetch(url, action)
        values = document.get("value") if isinstance(document, dict) else None
        if not isinstance(values, list):
            raise GraphError(f"Microsoft Graph answered the request to {action} without a list.")
        items.extend(item for item in values if isinstance(item, dict))
        link = document.get("@odata.nextLink")
        if link is None:
            return items
        if not isinstance(link, str) or not link.startswith(root.rstrip("/") + "/"):
            raise GraphError(
                f"Microsoft Graph answered the request to {action} with a next page outside "
                f"{root}; apns-bot did not follow it."
            )
        url = link
    raise GraphError(
        f"Microsoft Graph answered the request to {action} with more than {MAX_PAGES} pages; "
        "apns-bot stopped following them."
    )


def _text(entity: dict[str, Any], key: str) -> str | None:
    value = entity.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def _moment(entity: dict[str, Any], key: str, timestamp: Timestamp, action: str) -> datetime | None:
    try:
        return timestamp(entity.get(key))
    except ValueError as exc:
        raise GraphError(
            f"Microsoft Graph answered the request to {action} with a {key} apns-bot cannot "
            f"read: {entity.get(key)!r}."
        ) from exc


def _informational(entity: dict[str, Any], key: str, timestamp: Timestamp) -> datetime | None:
    try:
        return timestamp(entity.get(key))
    except ValueError:
        return None  # a sync date Graph garbled hides nothing that matters more than the rest


def parse_ade_token(entity: dict[str, Any], timestamp: Timestamp) -> AppleToken:
    """A ``depOnboardingSetting``; a non-zero ``lastSyncErrorCode`` is the sync error."""
    code = entity.get("lastSyncErrorCode")
    failed = (
        isinstance(code, int | str) and not isinstance(code, bool) and str(code) not in ("", "0")
    )
    return AppleToken(
        id=_text(entity, "id") or "",
        kind=CredentialKind.ADE,
        name=_text(entity, "tokenName"),
        apple_id=_text(entity, "appleIdentifier"),
        organization=None,
        expires_at=_moment(entity, "tokenExpirationDateTime", timestamp, ADE_ACTION),
        state=None,
        last_sync=_informational(entity, "lastSuccessfulSyncDateTime", timestamp),
        sync_error=str(code) if failed else None,
        last_modified=_informational(entity, "lastModifiedDateTime", timestamp),
    )


def parse_vpp_token(entity: dict[str, Any], timestamp: Timestamp) -> AppleToken:
    """A ``vppToken``; ``name`` is ``displayName`` (beta), else ``organizationName``."""
    organization = _text(entity, "organizationName")
    status = _text(entity, "lastSyncStatus")
    return AppleToken(
        id=_text(entity, "id") or "",
        kind=CredentialKind.VPP,
        name=_text(entity, "displayName") or organization,
        apple_id=_text(entity, "appleId"),
        organization=organization,
        expires_at=_moment(entity, "expirationDateTime", timestamp, VPP_ACTION),
        state=_text(entity, "state"),
        last_sync=_informational(entity, "lastSyncDateTime", timestamp),
        sync_error=status if status is not None and status.lower() == "failed" else None,
        last_modified=_informational(entity, "lastModifiedDateTime", timestamp),
    )


def listed_tokens(
    entities: Iterable[dict[str, Any]],
    parse: Parse,
    timestamp: Timestamp,
    *,
    tenant: str,
    kind: CredentialKind,
) -> list[AppleToken]:
    """The listed tokens that have an ``id``, parsed; each one without is skipped with a warning
    naming the tenant and the kind (never its properties: no Apple ID reaches the log)."""
    tokens: list[AppleToken] = []
    for number, entity in enumerate(entities, start=1):
        if _text(entity, "id") is None:
            log.warning(
                "tenant %s: Microsoft Graph listed %s number %d without an id; it is skipped "
                "(without an id it can be neither reminded once nor renewed)",
                tenant,
                kind.label,
                number,
            )
            continue
        tokens.append(parse(entity, timestamp))
    return tokens
