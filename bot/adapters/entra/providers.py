"""The token provider of a tenant: app-only, or in delegated mode its latest valid sign-in."""

from __future__ import annotations

from bot.adapters.entra.app_only import MsalAppTokenProvider, OwnedTokenProvider
from bot.adapters.entra.delegated import open_reader
from bot.adapters.entra.http import SignInHttpClient
from bot.config import Settings, TenantSettings


def build_token_provider(
    settings: Settings, tenant: TenantSettings, *, signin_http: SignInHttpClient | None = None
) -> OwnedTokenProvider:
    """The provider for ``tenant`` (nothing touches the network until ``token()``): app-only, or
    in delegated mode the tenant's most recent valid sign-in (``bot.adapters.entra.delegated``)."""
    if tenant.delegated:
        return open_reader(settings, tenant)
    return MsalAppTokenProvider(settings, tenant, signin_http=signin_http)
