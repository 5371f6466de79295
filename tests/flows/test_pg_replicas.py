"""Two replicas on one PostgreSQL database (``APNS_TEST_DATABASE_URL``): nothing done twice.

Each bot opens its own connection pool, as a replica on another host would; no lock in this
process is shared between them, so what holds here holds because the database makes it hold.
Where a second process matters (one killed mid-upload, approvals raced from two processes,
``apns-bot check`` from cron on several hosts) the test starts real ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bot.core.requests import Status
from bot.slack.ids import Action
from tests.clock import iso, real_now
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import FakeSlack
from tests.flows.test_renewal_flow import patches, pending_request
from tests.flows.test_watch import check, expire_in, posts
from tests.harness import GROUP_LEAD, LEAD_1, LEAD_2, MovableClock, RunningBot
from tests.races import race

CLICKS = 20
ROOT = str(Path(__file__).resolve().parents[2])

# a replica of its own: the bot's real composition on the settings in its environment
_BOT_PROCESS = """
import os, sys
from bot.config import load_settings
from bot.runtime.compose import build_deps
from tests.clock import MovableClock
deps = build_deps(load_settings(os.environ), clock=MovableClock())
"""


def process_env(bot_env: dict[str, str], pg_url: str) -> dict[str, str]:
    """What a replica's process gets: a shell's basics, the settings, the shared database (and the
    suite's anchor for "now", which ``MovableClock`` starts at)."""
    keep = ("PATH", "HOME", "LANG", "APNS_TEST_NOW")
    basics = {k: os.environ[k] for k in keep if k in os.environ}
    return {**basics, **bot_env, "APNS_DATABASE_URL": pg_url, "PYTHONPATH": ROOT}


def python(
    args: list[str], cwd: Path, env: dict[str, str], *, stdin: bool = False, stderr: bool = True
) -> subprocess.Popen[str]:
    """A Python process of the suite's interpreter, its stdout (and stderr, stdin) piped as text."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr else None,
        text=True,
    )


def approve_on_both(one: RunningBot, two: RunningBot, request_id: str) -> None:
    """``CLICKS`` approvals by three leads released at once, alternating between the replicas."""
    leads = [LEAD_1, LEAD_2, GROUP_LEAD]
    race(CLICKS, lambda i: (one, two)[i % 2].slack.click(Action.APPROVE, request_id, leads[i % 3]))


def test_twenty_approvals_split_across_two_replicas_give_one_patch(
    start_bot: Callable[..., RunningBot], pg_url: str, fake_slack: FakeSlack, fake_graph: FakeGraph
) -> None:
    one, two = start_bot(APNS_DATABASE_URL=pg_url), start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_request(one, fake_slack)
    fake_graph.set_latency(0.2)  # the upload is still running while later clicks arrive
    approve_on_both(one, two, request_id)
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
    racers = bots * 3
    results = race(len(racers), lambda i: check(racers[i]))
    assert sorted(r.posted for r in results) == [(), (), (), (), (), ("reminder 7",)]
    assert len(posts(fake_slack, "Renew the APNs certificate now")) == 1
    clock.advance(days=4)  # 2.5 days left: the next threshold, again once
    later = race(len(racers), lambda i: check(racers[i]))
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
    env = process_env(bot_env, pg_url)
    procs = [python(["-m", "bot", "check"], tmp_path, env) for _ in range(3)]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1], [err for _, err in outputs]
    # the certificate's line comes first; the ADE and VPP lines follow it
    lines = [out.splitlines()[0] for out, _ in outputs]
    assert all(line.startswith("CRITICAL default: 6 days left") for line in lines), outputs
    assert sum(line.endswith("posted: reminder 7") for line in lines) == 1, outputs
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


_MID_UPLOAD = (
    _BOT_PROCESS
    + """
print("ready", flush=True)
deps.applying.apply(sys.argv[1], actor=sys.argv[2])  # killed while Graph holds its answer
"""
)


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
    dying = python(
        ["-c", _MID_UPLOAD, request_id, LEAD_1],
        tmp_path,
        process_env(bot_env, pg_url),
        stderr=False,
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


_APPROVER = (
    _BOT_PROCESS
    + """
from concurrent.futures import ThreadPoolExecutor
request_id, users = sys.argv[1], sys.argv[2].split(",")
print("ready", flush=True)
assert sys.stdin.readline().strip() == "go"  # both processes are released together
with ThreadPoolExecutor(max_workers=len(users)) as pool:
    list(pool.map(lambda user: deps.renewals.approve(request_id, user), users))
deps.close()
print("done", flush=True)
"""
)


def test_twenty_approvals_from_two_bot_processes_give_one_patch(
    start_bot: Callable[..., RunningBot],
    bot_env: dict[str, str],
    pg_url: str,
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    tmp_path: Path,
) -> None:
    """Two processes, each the bot's real composition (``build_deps``) on one PostgreSQL, approve
    the same request from ten threads each at once: one upload, one "renewed" message."""
    first = start_bot(APNS_DATABASE_URL=pg_url)
    request_id = pending_request(first, fake_slack)
    first.wait_idle()
    approvers = [LEAD_1, LEAD_2, GROUP_LEAD]
    users = [approvers[i % 3] for i in range(CLICKS)]
    env = process_env(bot_env, pg_url)
    procs = [
        python(["-c", _APPROVER, request_id, ",".join(users[p::2])], tmp_path, env, stdin=True)
        for p in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        outputs = [proc.communicate("go\n", timeout=90) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    assert len(patches(fake_graph)) == 1
    fake_slack.wait_for("chat.postMessage", lambda c: "renewed" in c.params.get("text", ""))
    assert len(posts(fake_slack, "renewed")) == 1
    stored = first.deps.store.get_request(request_id)
    assert stored is not None and stored.status is Status.APPLIED and stored.attempts == 1
    events = [e.event for e in first.deps.store.history("default", request_id=request_id)]
    assert events.count("applying") == 1
