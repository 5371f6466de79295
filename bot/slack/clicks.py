"""What a button click says beyond its action: the tenant it names, where it was clicked, how to
answer it without replacing the message it came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Respond

from bot.config import Settings, TenantSettings


def clicked_value(body: Mapping[str, Any]) -> str:
    """The clicked button's value ("" when it has none)."""
    return str(((body.get("actions") or [{}])[0]).get("value") or "")


def clicked_tenant(settings: Settings, body: Mapping[str, Any]) -> TenantSettings | None:
    """The tenant a button names: its value, or the part before ``|`` of ``<tenant>|<item>``
    (e.g. *Get public key*'s ``<tenant>|<token id>``); the default tenant for an empty one; None
    when the named tenant is not configured."""
    name = clicked_value(body).partition("|")[0]
    return settings.tenants.get(name) if name else settings.default_tenant


def clicked_item(body: Mapping[str, Any]) -> str | None:
    """What a ``<tenant>|<item>`` button value names after its tenant (None: nothing)."""
    return clicked_value(body).partition("|")[2] or None


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
