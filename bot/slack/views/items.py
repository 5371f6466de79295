"""Every watched item of a tenant as mrkdwn lines, worst first (``/apns status`` and App Home).

An item is the push certificate, one ADE or Apps and Books (VPP) token, or a kind that could not
be read (``bot.core.items``). Token names, Apple IDs and Graph's messages are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.config import TenantSettings
from bot.core.items import WatchItem, expired_text
from bot.core.model import TenantCertificate
from bot.slack.views.blocks import URGENCY_EMOJI, days_phrase, escape, header, section, tenant_label
from bot.slack.views.status import URGENCY_TEXT, status_message

ITEMS_SHOWN = 20  # a tenant has a handful of tokens; a section holds 3,000 characters


NAME_CHARS = 80  # a token's name or Apple ID as shown (Graph's text is the uploader's)
NOTE_CHARS = 300  # a problem or why a kind could not be read
SECTION_CHARS = 3000  # Slack's limit for a section's text


def item_line(item: WatchItem) -> str:
    kind = item.kind.label
    if item.urgency is None:
        why = " ".join((item.note or "unknown error").split())  # one line per item
        return f":warning: *{kind}* — could not be read: {escape(why, NOTE_CHARS)}"
    emoji = URGENCY_EMOJI[item.urgency]
    what = "" if item.token is None else f" *{escape(item.name, NAME_CHARS)}*"
    if item.days_left is None:
        text = f"{emoji} {kind}{what} — {URGENCY_TEXT[item.urgency]}"
    elif item.days_expired is not None:
        text = f"{emoji} {kind}{what} — {expired_text(item.days_expired)}"
    else:
        text = f"{emoji} {kind}{what} — {days_phrase(item.days_left)}"
    if item.expires_at is not None:
        text += f", expires {item.expires_at:%Y-%m-%d}"
    if item.owner and item.token is not None:
        text += f", {escape(item.owner, NAME_CHARS)}"
    if item.note:
        text += f" — :warning: {escape(' '.join(item.note.split()), NOTE_CHARS)}"
    return text


def items_blocks(items: Sequence[WatchItem]) -> list[Block]:
    """The items as sections of whole lines, each within Slack's 3,000 characters (a line is
    never cut: an escaped entity cut in two would show as garbage)."""
    lines = [item_line(item) for item in items[:ITEMS_SHOWN]]
    if len(items) > ITEMS_SHOWN:
        lines.append(f"…and {len(items) - ITEMS_SHOWN} more (`apns-bot status` lists them all).")
    sections: list[str] = ["*Watched items, worst first*"]
    for line in lines:
        if len(sections[-1]) + 1 + len(line) > SECTION_CHARS:
            sections.append(line)
        else:
            sections[-1] += "\n" + line
    return [section(text) for text in sections]


def tenant_status_message(
    tenant: TenantSettings,
    certificate: TenantCertificate | None,
    items: Sequence[WatchItem],
    now: datetime,
) -> tuple[str, list[Block]]:
    """The certificate card (when the certificate was read) with every watched item, worst
    first, right under its header; without a certificate, a card of the items alone."""
    if certificate is not None:
        text, blocks = status_message(tenant, certificate, now)
    else:
        title = "Apple credentials — {}"  # the header is plain text, the fallback mrkdwn
        text, blocks = title.format(tenant_label(tenant)), [header(title.format(tenant.label))]
    if items and (certificate is None or len(items) > 1):
        blocks[1:1] = items_blocks(items)
        worst = items[0]
        what = worst.kind.label if worst.token is None else f"{worst.kind.label} {worst.name}"
        text += f" — most urgent: {escape(what)}"
    return text, blocks
