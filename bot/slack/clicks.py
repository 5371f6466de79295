"""What a button click says beyond its action: the tenant it names, where it was clicked, how to
answer it without replacing the message it came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Respond

from bot.config import Settings, TenantSettings


def clicked_tenant(settings: Settings, body: Mapping[str, Any]) -> TenantSettings | None:
    """The tenant a *Start renewal* / *Get CSR* button names (its value); None if unknown."""
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return settings.tenants.get(value) if value else settings.default_tenant


def clicked_channel(body: Mapping[str, Any]) -> str | None:
    """The channel a button was clicked in (None in the Home tab)."""
    channel = body.get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, dict) and isinstance(container.get("channel_id"), str):
        return str(container["channel_id"])
    return None


def keep_original(respond: Respond, body: Mapping[str, Any]) -> Callable[..., Any] | None:
    """``respond`` for a click that must not replace the message it came from (None in the
    Home tab, which has no ``response_url``)."""
    if not body.get("response_url"):
        return None
    return lambda **kw: respond(**{**kw, "replace_original": False})
