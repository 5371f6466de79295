"""The one helper that makes text from people (or from Graph) inert in Slack's mrkdwn.

Slack's formatting rules: escape ``&``, ``<`` and ``>``, and nothing else needs it; then
``<!channel>``, ``<!here>``, ``<@U…>`` and disguised links ``<https://…|…>`` show as typed and
ping nobody. Pure text, so both the Slack views and the sign-in messages use it.
"""

from __future__ import annotations

ELLIPSIS = "…"


def escape(text: str, limit: int | None = None) -> str:
    """``text`` made inert in mrkdwn; with ``limit``, cut to that many characters first (an
    ellipsis marks the cut), so a 100 KB word is never echoed whole."""
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_within(text: str, budget: int) -> str:
    """``text`` escaped and at most ``budget`` characters long once escaped (escaping can make
    it five times longer: ``&`` becomes ``&amp;``), cut before an entity, never inside one."""
    escaped = escape(text)
    limit = len(text)
    while len(escaped) > budget and limit > 0:
        limit -= max(1, (len(escaped) - budget) // 5)
        escaped = escape(text, limit)
    return escaped
