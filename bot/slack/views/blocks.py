"""Small Block Kit building helpers shared by the message families (typed ``slack_sdk.models``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.config import TenantSettings
from bot.core.mrkdwn import escape
from bot.core.status import Urgency

__all__ = ["escape"]  # the one escaping helper (bot.core.mrkdwn), where views import it from

URGENCY_EMOJI: dict[Urgency, str] = {
    Urgency.OK: ":large_green_circle:",
    Urgency.RENEW_SOON: ":large_yellow_circle:",
    Urgency.CRITICAL: ":red_circle:",
    Urgency.EXPIRED: ":rotating_light:",
    Urgency.LAPSED: ":skull:",
    Urgency.MISSING: ":white_circle:",
}


def tenant_label(tenant: TenantSettings) -> str:
    """The tenant's display name for mrkdwn: any string from the tenants file, made inert (a
    ``<!channel>`` in it pings nobody). Plain text (headers, the CLI, logs) uses ``tenant.label``."""
    return escape(tenant.label)


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=text[:150])


def section(text: str, *, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]), block_id=block_id)


def fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    return SectionBlock(fields=[MarkdownTextObject(text=f"*{k}*\n{v}"[:2000]) for k, v in pairs])


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:3000])])


def slack_date(moment: datetime, fallback: str | None = None) -> str:
    """A date Slack renders in each reader's own time zone, with a UTC fallback."""
    stamp = int(moment.timestamp())
    text = fallback or moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_long_pretty}} {{time}}|{text}>"


def days_phrase(days: int) -> str:
    if days >= 0:
        return f"{days} day{'s' if days != 1 else ''} left"
    return f"expired {-days} day{'s' if days != -1 else ''} ago"


def to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Serialise (and so validate Slack's limits) once, where a message is sent."""
    return [b.to_dict() for b in blocks]


def code(text: str | None) -> str:
    if not text:
        return "_unknown_"
    return "`" + escape(text).replace("`", "'") + "`"
