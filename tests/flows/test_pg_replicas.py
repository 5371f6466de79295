"""Two replicas on one PostgreSQL database (``APNS_TEST_DATABASE_URL``): nothing done twice.

Each bot opens its own connection pool, as a replica on another host would; no lock in this
process is shared between them, so what holds here holds because the database makes it hold.
Where a second process matters (one killed mid-upload, approvals raced from two processes,
``apns-bot check`` from cron on several hosts) the test starts real ones.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.store.postgres import PostgresStore
from bot.core.requests import Status
from bot.slack.ids import Action
from tests.adapters.store.fixtures import request
from tests.clock import iso, real_now
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import patches, pending_request
from tests.flows.test_watch import check, expire_in, posts
from tests.harness import GROUP_LEAD, LEAD_1, LEAD_2, MovableClock, RunningBot

CLICKS = 20


def test_twenty_approvals_split_across_two_replicas_give_one_patch(
    start_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    one, two = start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_request(one, fake_slack)
    fake_graph.set_latency(0.2)  # the upload is still running while later clicks arrive
    approvers = [LEAD_1, LEAD_2, GROUP_LEAD]
    barrier = threading.Barrier(CLICKS)

    def click(i: int) -> None:
        barrier.wait(timeout=30)
        (one, two)[i % 2].slack.click(Action.APPROVE, request_id, approvers[i % 3])

    with ThreadPoolExecutor(max_workers=CLICKS) as pool:
        list(pool.map(click, range(CLICKS)))
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    one.wait_idle()
    two.wait_idle()
    assert len(patches(fake_graph)) == 1
    assert len(posts(fake_slack, "renewed")) == 1
    stored = two.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED and stored.attempts == 1


def test_both_replicas_running_the_daily_check_at_once_post_each_reminder_once(
    start_bot: Callable[..., RunningBot],
    pg_url: str,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    clock: MovableClock,
) -> None:
    bots = [start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)]
    expire_in(fake_graph, clock, 6.5)
    barrier = threading.Barrier(len(bots) * 3)

    def run(bot: RunningBot) -> Any:
        barrier.wait(timeout=30)
        return check(bot)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, bots * 3))
    assert sorted(r.posted for r in results) == [(), (), (), (), (), ("reminder 7",)]
    assert len(posts(fake_slack, "Renew the APNs certificate now")) == 1
    clock.advance(days=4)  # 2.5 days left: the next threshold, again once
    with ThreadPoolExecutor(max_workers=6) as pool:
        barrier.reset()
        later = list(pool.map(run, bots * 3))
    assert sorted(r.posted for r in later) == [(), (), (), (), (), ("reminder 3",)]


def test_check_processes_on_two_hosts_at_once_post_the_reminder_once(
    bot_env: dict[str, str],
    pg_url: str,
    fake_graph: FakeGraph,
    fake_slack: FakeSlack,
    tmp_path: Path,
) -> None:
    """``apns-bot check`` from cron on three hosts at the same minute: real processes (with the
    real clock, so the expiry is an offset from it), one database, one reminder."""
    fake_graph.set_entity(expirationDateTime=iso(real_now() + timedelta(days=6.5)))
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    root = str(Path(__file__).resolve().parents[2])
    env = {**keep, **bot_env, "APNS_DATABASE_URL": pg_url, "PYTHONPATH": root}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "check"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1], [err for _, err in outputs]
    lines = [out.strip() for out, _ in outputs]
    assert all(line.startswith("CRITICAL default: 6 days left") for line in lines), lines
    assert sum(line.endswith("posted: reminder 7") for line in lines) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


_MID_UPLOAD = """
import os, sys
from bot.config import load_settings
from bot.runtime.compose import build_deps
from tests.clock import MovableClock
deps = build_deps(load_settings(os.environ), clock=MovableClock())
print("ready", flush=True)
deps.applying.apply(sys.argv[1], actor=sys.argv[2])  # killed while Graph holds its answer
"""


def test_a_replica_killed_mid_upload_leaves_it_for_the_other_to_settle(
    start_bot: Callable[..., RunningBot],
    bot_env: dict[str, str],
    pg_url: str,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    tmp_path: Path,
) -> None:
    """The dying replica is a process of its own with the bot's real composition (``build_deps``:
    the upload use case, the Graph adapter, the PostgreSQL store), killed with SIGKILL after it
    claimed the upload, while the fake Graph holds its answer."""
    first = start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_request(first, fake_slack)
    now = first.clock()
    first.deps.store.add_approval(request_id, LEAD_1, now)
    assert first.deps.store.transition(
        request_id, Status.PENDING, Status.APPROVED, now, require_approvals=1
    )
    first.wait_idle()
    fake_graph.hold()
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "APNS_TEST_NOW") if k in os.environ}
    root = str(Path(__file__).resolve().parents[2])
    dying = subprocess.Popen(
        [sys.executable, "-c", _MID_UPLOAD, request_id, LEAD_1],
        cwd=tmp_path,
        env={**keep, **bot_env, "APNS_DATABASE_URL": pg_url, "PYTHONPATH": root},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert dying.stdout is not None and dying.stdout.readline().strip() == "ready"
        fake_graph.wait_held(timeout=60)  # its read before the PATCH: the upload is under way
        claimed = first.deps.store.get_request(request_id)
        assert claimed is not None and claimed.status is Status.APPLYING
    finally:
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=30)
        if dying.stdout is not None:
            dying.stdout.close()
        fake_graph.release()
    assert dying.returncode == -signal.SIGKILL

    second = start_bot(APNS_DATABASE_URL=pg_url)  # the other replica
    second.deps.applying.reconcile()  # within the lease: the upload may still be running
    left = second.deps.store.get_request(request_id)
    assert left is not None and left.status is Status.APPLYING
    second.clock.advance(minutes=11)  # past the lease: nobody is working on it any more
    second.deps.applying.reconcile()
    settled = second.deps.store.get_request(request_id)
    assert settled is not None and settled.status is Status.FAILED
    assert settled.failure is not None and settled.failure.code == "interrupted"
    assert patches(fake_graph) == []
    history = second.deps.store.history("default", request_id=request_id)
    assert [e.event for e in history].count("reconciled") == 1


def _approve_from_process(
    url: str, request_id: str, users: list[str], at: str, barrier: Any, out: Any
) -> None:
    """One replica's share of the clicks: approve, then try to take the upload."""
    moment = datetime.fromisoformat(at)
    with PostgresStore(url, pool_size=len(users)) as store:

        def one(user: str) -> bool:
            barrier.wait(timeout=60)
            store.add_approval(request_id, user, moment)
            store.transition(
                request_id, Status.PENDING, Status.APPROVED, moment, require_approvals=1
            )
            return store.transition(request_id, Status.APPROVED, Status.APPLYING, moment)

        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            out.put(sum(pool.map(one, users)))


def test_twenty_approvals_from_two_processes_have_one_uploader(pg_url: str) -> None:
    req = request(requester="UREQ")
    with PostgresStore(pg_url) as store:
        store.create_request(req)
    at = (req.created_at + timedelta(minutes=1)).isoformat()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(CLICKS), ctx.Queue()
    users = [f"U{i % 7}" for i in range(CLICKS)]  # repeated clicks among seven approvers
    procs = [
        ctx.Process(
            target=_approve_from_process, args=(pg_url, req.id, users[p::2], at, barrier, out)
        )
        for p in range(2)
    ]
    for p in procs:
        p.start()
    wins = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    out.close()
    out.join_thread()
    assert sum(wins) == 1
    with PostgresStore(pg_url) as store:
        stored = store.get_request(req.id)
        assert stored is not None and stored.status is Status.APPLYING and stored.attempts == 1
        # clicks that arrive once the request is approved are not recorded (it is no longer open)
        assert stored.approvers and set(stored.approvers) <= set(users)
        assert len(set(stored.approvers)) == len(stored.approvers)
        events = [e.event for e in store.history("default", request_id=req.id, limit=100)]
        assert events.count("applying") == 1
        assert events.count("approved") == len(stored.approvers)
