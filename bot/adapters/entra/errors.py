"""Sign-in failures as ``AuthError``: the AADSTS line Entra ID wrote, and what to do about it.

MSAL returns error dicts (``error``, ``error_description`` with trace noise after the first line,
``error_codes``, ``correlation_id``) rather than raising; a failed OIDC discovery surfaces as a
ValueError wrapping Entra's answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.config import TenantSettings
from bot.errors import AuthError

APP_PAGE = "Entra admin center → App registrations → your app"
AADSTS = re.compile(r"AADSTS(\d+): ?([^\r\n\"\\]*)")


def _hint(code: str | None, error: str, tenant: TenantSettings, thumbprint: str | None) -> str:
    secrets_page = f"{APP_PAGE} → Certificates & secrets"
    hints = {
        "7000215": (
            f"The client secret is wrong. Under {secrets_page}, create a new client secret and copy "
            "its Value (not the Secret ID) into AZURE_CLIENT_SECRET."
        ),
        "7000222": (
            f"The client secret has expired. Under {secrets_page}, create a new client secret and "
            "copy its Value into AZURE_CLIENT_SECRET."
        ),
        "700016": (
            f"No app with client id {tenant.client_id} exists in tenant {tenant.tenant_id}. Check "
            "AZURE_CLIENT_ID (Application (client) ID) and AZURE_TENANT_ID (Directory (tenant) "
            "ID) on the app registration's Overview page."
        ),
        "90002": (
            f"Tenant {tenant.tenant_id} was not found in this cloud. Check AZURE_TENANT_ID and "
            "AZURE_CLOUD (US Government and China have their own sign-in hosts)."
        ),
        "700027": (
            "The certificate used to sign in is not registered on the app: upload its public part"
            + (f" (thumbprint {thumbprint})" if thumbprint else "")
            + f" under {secrets_page} → Certificates."
        ),
        "700024": "The sign-in assertion's time is off: check this machine's clock (NTP).",
        "7000112": "The app is disabled in this tenant: an admin must enable it under Enterprise applications.",
        "500011": (
            f"Microsoft Graph at {tenant.graph_root} is not known in this tenant's cloud: check "
            "GRAPH_URL and AZURE_CLOUD."
        ),
        "7000218": "No credential was sent: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.",
        "53003": "A Conditional Access policy blocked the app: ask an Entra admin to exclude it.",
    }
    if code in hints:
        return hints[code]
    if error == "invalid_client":
        return "Check AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH against the app registration."
    return ""


def auth_error(
    result: Mapping[str, Any], tenant: TenantSettings, thumbprint: str | None = None
) -> AuthError:
    """Turn MSAL's error dict into an ``AuthError`` quoting the AADSTS line and what to do."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    first_line = description.replace("\r\n", "\n").split("\n", 1)[0].strip()
    match = AADSTS.search(first_line)
    codes = result.get("error_codes")
    code = (
        match.group(1) if match else (str(codes[0]) if isinstance(codes, list) and codes else None)
    )
    message = (
        f"Microsoft Entra ID refused to sign in app {tenant.client_id} to tenant "
        f"{tenant.tenant_id}: {first_line or error}"
    )
    hint = _hint(code, error, tenant, thumbprint)
    if hint:
        message += f"\nWhat to do: {hint}"
    if result.get("correlation_id"):
        message += f"\n(Correlation ID {result['correlation_id']}, for Microsoft support.)"
    return AuthError(message, error=error)


def discovery_error(exc: BaseException, tenant: TenantSettings) -> AuthError:
    """MSAL could not set up the authority (OIDC discovery failed, or the authority is malformed).

    MSAL re-raises a failed discovery as a generic ValueError; Entra's answer (with its AADSTS
    line, e.g. 90002 for an unknown tenant) is in the exception it replaced.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        text = str(link)
        match = AADSTS.search(text)
        if match is None:
            continue
        try:
            result = json.loads(text.partition("Error: ")[2])
        except ValueError:
            result = None
        if not isinstance(result, dict):
            result = {"error": "invalid_request", "error_description": match.group(0)}
        return auth_error(result, tenant)
    first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
    return AuthError(
        f"Cannot use the sign-in authority {tenant.authority}: {first_line} Check AZURE_TENANT_ID, "
        "AZURE_CLOUD and AZURE_AUTHORITY_HOST."
    )
