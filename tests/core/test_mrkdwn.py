"""The one escaping helper: inert mrkdwn, cut to a budget after escaping."""

from __future__ import annotations

import pytest

from bot.core.mrkdwn import escape, escape_within


@pytest.mark.parametrize(
    ("text", "budget"),
    [("&" * 150 + "@example.com", 160), ("<@U1>" * 60, 160), ("mdm@contoso.example", 160)],
)
def test_escaped_text_stays_within_its_budget_and_is_never_cut_inside_an_entity(
    text: str, budget: int
) -> None:
    out = escape_within(text, budget)
    assert len(out) <= budget
    kept = out.removesuffix("…")
    assert escape(text).startswith(kept)  # a prefix of the whole escaped text...
    entities = kept.count("&amp;") + kept.count("&lt;") + kept.count("&gt;")
    assert kept.count("&") == entities  # ...cut between entities, never inside one


def test_short_text_is_only_escaped() -> None:
    assert escape_within("a&b <@U1>", 160) == "a&amp;b &lt;@U1&gt;"
