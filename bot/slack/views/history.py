"""Audit events as lines of mrkdwn (``/apns history`` and the App Home)."""

from __future__ import annotations

from bot.core.requests import AuditEvent
from bot.slack.views.blocks import escape


def history_lines(events: list[AuditEvent]) -> list[str]:
    lines = []
    for event in events:
        who = "apns-bot" if event.actor == "system" else f"<@{event.actor}>"
        ref = f" `{event.request_id}`" if event.request_id else ""
        extra = escape(
            ", ".join(
                f"{k}: {v}" for k, v in event.detail.items() if isinstance(v, str | int) and v != ""
            )
        )
        lines.append(
            f"`{event.at:%Y-%m-%d %H:%M}` *{event.event.replace('_', ' ')}* by {who}{ref}"
            + (f" — {extra}" if extra else "")
        )
    return lines
