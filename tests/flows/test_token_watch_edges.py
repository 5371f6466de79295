"""Token watch edges: a token Graph lists without an id, and a kind that leaves the watch list.

Through the fake Graph and fake Slack, with a real SQLite file, as ``test_token_watch``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.core.reminders import CheckState
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_tokens import without_id
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_token_watch import KINDS, Kind, check, posts, read_of, set_tokens, token
from tests.harness import MovableClock, RunningBot


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_without_an_id_is_skipped_and_the_others_are_still_reminded(
    start_bot: Callable[..., RunningBot],
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    clock: MovableClock,
    kind: Kind,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idless = without_id(token(kind, clock, 3, name="No id"))
    kept = token(kind, clock, 20, id=f"{kind}-kept", name="Kept")
    set_tokens(fake_graph, kind, [idless, kept])
    bot = start_bot()
    with caplog.at_level("WARNING", logger="bot.adapters.graph.tokens"):
        first = check(bot)
    assert [t.id for t in read_of(first, kind).tokens] == [f"{kind}-kept"]
    assert first.state is CheckState.ATTENTION and first.posted == (f"{kind} reminder 30",)
    [reminder] = posts(fake_slack, "expires soon")
    assert "Kept" in str(reminder.params) and "No id" not in str(reminder.params)
    assert any("without an id" in r.getMessage() for r in caplog.records)
    assert check(bot).posted == () and check(start_bot()).posted == ()  # still once
