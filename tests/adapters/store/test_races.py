"""The store under contention, on every backend: threads, several stores on one database (as
replicas), several processes."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

from bot.adapters.store import SqlStore
from bot.core.request_policy import open_request_of_another
from bot.core.requests import ChangeRequest, Status
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import T0, request
from tests.races import race

LATER = T0 + timedelta(hours=1)
ROUNDS = 40


def events(store: SqlStore, request_id: str) -> list[str]:
    return [e.event for e in reversed(store.history("default", request_id=request_id, limit=100))]


def test_people_submitting_at_once_store_one_request_and_the_rest_are_told_whose(
    store: SqlStore, backend: Backend
) -> None:
    """A pending request belongs to its requester: of several people submitting at once (two
    stores on one file, as two replicas), exactly one request is stored, whatever the order."""
    others = backend.open()
    people = [f"U{n}" for n in range(8)]
    mine = [request(requester=person) for person in people]

    def submit(i: int) -> ChangeRequest | None:
        def someone_elses(pending: list[ChangeRequest]) -> ChangeRequest | None:
            return open_request_of_another(pending, people[i], LATER)

        target = store if i % 2 else others
        return target.create_request(mine[i], unless=someone_elses)

    try:
        blocked_by = race(len(people), submit)
    finally:
        others.close()
    [stored] = store.list_requests("default", statuses=[Status.PENDING])
    assert blocked_by.count(None) == 1 and blocked_by[people.index(stored.requester)] is None
    assert {b.id for b in blocked_by if b is not None} == {stored.id}


def test_approvers_clicking_at_once_are_each_recorded_once(store: SqlStore) -> None:
    req = request()
    store.create_request(req)
    users = ["UA", "UB", "UC", "UA", "UB", "UC"]  # everyone double-clicks
    results = race(len(users), lambda i: store.add_approval(req.id, users[i], LATER))
    assert sum(r.recorded for r in results) == 3
    loaded = store.get_request(req.id)
    assert loaded is not None and sorted(loaded.approvers) == ["UA", "UB", "UC"]


def _approved(store: SqlStore, count: int) -> list[ChangeRequest]:
    made = [request() for _ in range(count)]
    for req in made:
        store.create_request(req)
        store.transition(req.id, Status.PENDING, Status.APPROVED, LATER)
    return made


def test_threads_racing_to_apply_have_exactly_one_winner(store: SqlStore) -> None:
    for req in _approved(store, ROUNDS):
        wins = race(
            8, lambda _, r=req: store.transition(r.id, Status.APPROVED, Status.APPLYING, LATER)
        )
        assert wins.count(True) == 1
        loaded = store.get_request(req.id)
        assert loaded is not None and loaded.attempts == 1
        assert events(store, req.id).count("applying") == 1


def test_three_stores_on_one_database_racing_have_exactly_one_winner(backend: Backend) -> None:
    with backend.open() as one, backend.open() as two, backend.open() as three:
        stores = [one, two, three]
        for req in _approved(one, ROUNDS):
            wins = race(
                6,
                lambda i, r=req: stores[i % 3].transition(
                    r.id, Status.APPROVED, Status.APPLYING, LATER, actor=f"U{i}"
                ),
            )
            assert wins.count(True) == 1
            assert events(two, req.id).count("applying") == 1


def _race_in_process(
    backend: Backend, ids: list[str], barrier: threading.Barrier, out: multiprocessing.Queue[str]
) -> None:
    with backend.open() as store:
        for request_id in ids:
            barrier.wait()
            if store.transition(request_id, Status.APPROVED, Status.APPLYING, LATER):
                out.put(request_id)
    out.put("done")


def test_processes_racing_to_apply_have_exactly_one_winner(backend: Backend) -> None:
    with backend.open() as store:
        ids = [req.id for req in _approved(store, 12)]
    ctx = multiprocessing.get_context("spawn")
    workers = 3
    barrier = ctx.Barrier(workers)
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_race_in_process, args=(backend, ids, barrier, out))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    wins: list[str] = []
    done = 0
    while done < workers:
        item = out.get(timeout=60)
        if item == "done":
            done += 1
        else:
            wins.append(item)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    out.close()
    out.join_thread()
    assert sorted(wins) == sorted(ids)  # every request claimed, none twice
