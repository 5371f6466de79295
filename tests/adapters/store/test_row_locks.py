"""What a write transaction reads and then acts on stays true until it commits, on every backend:
another replica's writer is held off between the read and the write (PostgreSQL's row locks,
SQLite's one write lock). Each test stops one store right after its read and lets others race it
(``interleave``); without the lock both would act on the same stale read."""

from __future__ import annotations

from datetime import timedelta

from bot.core.requests import Status
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import T0, request
from tests.adapters.store.interleave import Racer, pause_after
from tests.adapters.store.test_races import events

LATER = T0 + timedelta(hours=1)
RACERS = 2


def test_one_replace_state_wins_when_replicas_race_on_one_read(backend: Backend) -> None:
    with backend.open() as first, backend.open() as second:
        first.set_state("default", "lease", "free", T0)
        racers = [
            Racer(lambda i=i: second.replace_state("default", "lease", "free", f"r{i}", LATER))
            for i in range(RACERS)
        ]
        pause_after(first, "FROM tenant_state", lambda: [r.start() for r in racers])
        won = [first.replace_state("default", "lease", "free", "first", LATER)]
        won += [bool(r.finish()) for r in racers]
        assert won.count(True) == 1
        owner = ["first", *(f"r{i}" for i in range(RACERS))][won.index(True)]
        assert second.get_state("default", "lease") == owner


def test_one_delete_state_with_expected_wins(backend: Backend) -> None:
    with backend.open() as first, backend.open() as second:
        first.set_state("default", "claim", "mine", T0)

        def retake() -> bool:  # delete, then take it again: a stale delete would drop the new one
            deleted = second.delete_state("default", "claim", expected="mine")
            return deleted and second.set_state("default", "claim", "mine", LATER)

        racer = Racer(retake)
        pause_after(first, "FROM tenant_state", racer.start)
        won = [first.delete_state("default", "claim", expected="mine"), bool(racer.finish())]
        assert won.count(True) == 1
        assert (second.get_state("default", "claim") == "mine") is won[1]


def test_an_approval_is_never_recorded_after_the_request_moved_on(backend: Backend) -> None:
    with backend.open() as first, backend.open() as second:
        pending = request()
        first.create_request(pending)
        first.add_approval(pending.id, "UA", T0)
        racer = Racer(
            lambda: second.transition(
                pending.id, Status.PENDING, Status.APPROVED, LATER, require_approvals=1
            )
        )
        pause_after(first, "SELECT tenant, status FROM change_requests", racer.start)
        result = first.add_approval(pending.id, "UB", LATER)
        assert racer.finish() is True
        assert result.recorded and result.status is Status.PENDING
        # the second approval comes before the move to approved, never after it
        assert events(second, pending.id) == [
            "requested",
            "approved",
            "approved",
            "approval_complete",
        ]


def test_a_read_sees_one_moment_even_while_another_replica_writes(backend: Backend) -> None:
    with backend.open() as first, backend.open() as second:
        pending = request()
        first.create_request(pending)
        before = first.get_request(pending.id)
        racer = Racer(lambda: second.add_approval(pending.id, "UB", LATER))
        # between reading the request's row and its approvals, another replica approves
        pause_after(first, "FROM change_requests", racer.start)
        read = first.get_request(pending.id)
        racer.finish()
        after = second.get_request(pending.id)
        assert read in (before, after)
        assert read == before  # the approval committed after the read began


def test_rekey_and_expiry_at_once_lock_rows_in_one_order_and_both_finish(backend: Backend) -> None:
    with backend.open() as first, backend.open() as second:
        later = request()  # the lower id, written first: the first row a table scan locks
        sooner = request(expires_at=later.expires_at - timedelta(hours=1))
        for pending in (later, sooner):
            first.create_request(pending)
        rekey = Racer(lambda: second.rewrite_sealed(lambda kind, value: None))
        # expiry has moved one request and holds it; rekey starts reading every row meanwhile
        pause_after(first, "UPDATE change_requests SET status", rekey.start)
        expired = first.expire_due(later.expires_at)
        rekey.finish()
        assert sorted(r.id for r in expired) == sorted([later.id, sooner.id])
