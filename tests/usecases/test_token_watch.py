"""The token watch as a unit: what ``on_checked`` receives, a kind's bug isolated, one notice when
every kind fails the same way (a real SQLite store, recording fakes, the suite's clock)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.store import SqliteStore
from bot.core.reminders import CheckState
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import GraphError
from bot.usecases.token_watch import SNAPSHOT_PREFIX, last_seen, read_tenant
from bot.usecases.watch import CheckResult, Watch
from bot.usecases.watched import UnexpectedReadError, WatchedRead, one_by_one
from tests.clock import T0, MovableClock
from tests.usecases.fakes import TENANT, FakeGraph, RecordingWatchNotifier, settings
from tests.usecases.test_watch import certificate

ADE = AppleToken(
    id="ade-1",
    kind=CredentialKind.ADE,
    name="Contoso ABM",
    apple_id="abm@contoso.example",
    organization=None,
    expires_at=T0 + timedelta(days=20),
)


class BrokenVpp(FakeGraph):
    def list_vpp_tokens(self) -> list[AppleToken]:
        raise KeyError("a bug in the VPP parser")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "apns-bot.sqlite3")
    yield store
    store.close()


def watch_of(store: SqliteStore, graph: FakeGraph, slack: RecordingWatchNotifier) -> Watch:
    return Watch(settings(), store, graph, slack, MovableClock())


def test_on_checked_gets_one_read_per_token_kind_and_the_worst_state(store: SqliteStore) -> None:
    graph, slack = FakeGraph(certificate(200)), RecordingWatchNotifier()
    graph.ade_tokens = [ADE]
    checked: list[CheckResult] = []
    watch = Watch(settings(), store, graph, slack, MovableClock(), on_checked=checked.append)
    result = watch.check(TENANT)
    assert checked == [result]
    assert result.certificate == graph.current and result.error is None
    assert [(r.kind, r.tokens, r.error) for r in result.tokens] == [
        (CredentialKind.ADE, (ADE,), None),
        (CredentialKind.VPP, (), None),
    ]
    assert result.state is CheckState.ATTENTION and result.posted == ("ade reminder 30",)
    assert result.watched == (CredentialKind.PUSH, CredentialKind.ADE, CredentialKind.VPP)
    assert store.get_state(TENANT.name, SNAPSHOT_PREFIX + "ade") is not None
    assert last_seen(store, TENANT)[0].tokens == (ADE,)


def test_a_bug_reading_one_kind_hides_neither_the_certificate_nor_the_other_kind(
    store: SqliteStore,
) -> None:
    graph, slack = BrokenVpp(certificate(29.5)), RecordingWatchNotifier()
    graph.ade_tokens = [ADE]
    result = watch_of(store, graph, slack).check(TENANT)
    vpp = result.tokens[1]
    assert vpp.error is not None and vpp.error.code == "unexpected"
    assert "KeyError" not in vpp.error.message  # no Python internals in Slack
    assert result.state is CheckState.FAILED
    assert sorted(slack.posts) == ["ade reminder 30", "reminder 30", "vpp read failed"]


def test_every_kind_failing_the_same_way_is_one_notice(store: SqliteStore) -> None:
    slack = RecordingWatchNotifier()

    class Down(FakeGraph):
        def list_ade_tokens(self) -> list[AppleToken]:
            raise GraphError("Graph is down (ADE)", status=503, code="serviceUnavailable")

        def list_vpp_tokens(self) -> list[AppleToken]:
            raise GraphError("Graph is down (VPP)", status=503, code="serviceUnavailable")

    down = Down(certificate(200))
    down.read_failure = GraphError("Graph is down", status=503, code="serviceUnavailable")
    watch = watch_of(store, down, slack)
    result = watch.check(TENANT)
    assert result.state is CheckState.FAILED and slack.posts == ["check failed"]
    assert all(r.error is not None for r in result.tokens)
    assert [r.error.code for r in last_seen(store, TENANT) if r.error] == ["failing", "failing"]


def test_one_by_one_gives_each_item_its_value_or_its_error() -> None:
    graph = BrokenVpp(certificate(200))
    graph.ade_tokens = [ADE]
    graph.read_failure = GraphError("throttled", status=429, code="TooManyRequests")
    found = one_by_one(graph, True, (CredentialKind.ADE, CredentialKind.VPP))
    assert found.certificate is graph.read_failure
    assert found.tokens[CredentialKind.ADE] == (ADE,)
    assert isinstance(found.tokens[CredentialKind.VPP], UnexpectedReadError)
    assert one_by_one(graph, False, ()) == WatchedRead()  # nothing asked, nothing read
    assert graph.reads == 1


def test_a_kind_the_client_left_out_reads_as_unexpected_not_as_no_token() -> None:
    class Forgetful(FakeGraph):
        def read_watched(self, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
            return WatchedRead(self.current, {})

    read = read_tenant(Forgetful(certificate(200)), TENANT)
    assert read.certificate is not None and read.error is None
    assert [(r.kind, r.error.code if r.error else None) for r in read.tokens] == [
        (CredentialKind.ADE, "unexpected"),
        (CredentialKind.VPP, "unexpected"),
    ]
