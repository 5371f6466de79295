"""Fleet check: 1,000 tenants x 3 kinds, Graph answering each read in 200 ms (target: < 10 s).

Every tenant has a push certificate, one ADE token and one Apps and Books (VPP) token, all
watched (``APNS_WATCH`` default), so one pass is 3,000 Graph reads. Runs the real CLI as a
subprocess against the fake Entra + Graph (``python -m tests.fakes.graph_server``), itself a
separate process, on 127.0.0.1: ``status --all --json`` (the fleet table), ``check --no-post``
(the daily check's reads and states, one line per item) and ``check`` with Slack settings pointing
at the fake Slack (served by this process): the daily check as ``apns-bot run`` does it, with the
store's once-only bookkeeping (SQLite) and whatever is due posted. Wall time is measured around the
CLI process; peak memory is its maximum resident set size (``wait4``). Then the daily check inside
one running bot (``bench.fleet_daily``: ``Watch.check_all``, what the scheduler calls): the first
check after a start and the following days'. The target applies to that daily check; the one-shot
CLI commands, which also pay for the process's start-up, get a verdict of their own. A sequential
loop — what a runbook does — would need at least tenants x 3 x 200 ms.

    python -m bench.bench_fleet [--tenants 1000] [--latency 0.2] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.procs import real_time_anchor
from tests.fakes.graph_server import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, fleet_tenant_id
from tests.fakes.slack_server import BOT_TOKEN, FakeSlack
from tests.slack_requests import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 10.0


# Tokens that MSAL and the provider treat as due at once: every check signs each tenant in, as the
# daily check does a day after the last (a one-shot CLI process signs in anyway).
TOKEN_LIFETIME = 300


def start_fake(tenants: int, latency: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.graph_server", "--graph-latency", str(latency),
         "--tenants", str(tenants), "--token-lifetime", str(TOKEN_LIFETIME)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, **real_time_anchor()},
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()  # the URL
    env: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(env) < 6 and time.monotonic() < deadline:
        key, _, value = proc.stdout.readline().strip().partition("=")
        env[key] = value
    return proc, env


def tenants_file(path: Path, fake_env: dict[str, str], tenants: int) -> Path:
    lines = [
        f'client_id = "{FAKE_CLIENT_ID}"',
        'client_secret_env = "BENCH_SECRET"',
        'approvers = ["U0BENCHLEAD"]',
        f'authority_host = "{fake_env["AZURE_AUTHORITY_HOST"]}"',
        f'graph_url = "{fake_env["GRAPH_URL"]}"',
    ]
    for index in range(tenants):
        lines += [
            f"[tenants.t{index:04d}]",
            f'tenant_id = "{fleet_tenant_id(index)}"',
            f'channel = "C{index:08d}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(argv: list[str], env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *argv],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return out, {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                 "peak_rss_mb": usage.ru_maxrss / 1024, "exit": proc.returncode}  # fmt: skip


def one_run(env: dict[str, str]) -> dict[str, Any]:
    """``status --all --json``: one row per tenant, none failed, no kind unread."""
    out, result = timed(["status", "--all", "--json"], env)
    rows = json.loads(out)["tenants"] if out else []
    failed = sum(1 for row in rows if row["state"] == "check_failed" or row.get("unread"))
    return {**result, "rows": len(rows), "failed": failed}


def one_check(env: dict[str, str], argv: list[str] | None = None) -> dict[str, Any]:
    """``check --no-post``: one line per item (tenants x kinds), none FAILED."""
    out, result = timed(argv or ["check", "--no-post"], env)
    lines = out.splitlines()
    failed = sum(1 for line in lines if line.startswith("FAILED"))
    return {**result, "items": len(lines), "failed": failed}


def one_daily_check(env: dict[str, str], slack: FakeSlack) -> dict[str, Any]:
    """``check`` with Slack settings: reads, the store's bookkeeping, posts (none for a healthy
    fleet after the first run; the first records what it saw)."""
    slack.reset_calls()
    result = one_check(env, ["check"])
    return {**result, "slack_posts": len(slack.calls_to("chat.postMessage"))}


def in_bot(env: dict[str, str], runs: int) -> list[dict[str, Any]]:
    """``Watch.check_all`` ``runs`` times in one bot process (``bench.fleet_daily``): the first
    check after a start, then the following days'."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.fleet_daily", str(runs)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        check=True, timeout=600,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def run(tenants: int, latency: float, runs: int, watch: str = "push,ade,vpp") -> dict[str, Any]:
    kinds = len([kind for kind in watch.split(",") if kind.strip()])  # one token each per tenant
    fake, fake_env = start_fake(tenants, latency)
    slack = FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as scratch:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "APNS_"))},
                "APNS_TENANTS_FILE": str(tenants_file(Path(scratch) / "t.toml", fake_env, tenants)),
                "BENCH_SECRET": FAKE_CLIENT_SECRET,
                "SSL_CERT_FILE": fake_env["SSL_CERT_FILE"],
                "APNS_DB_PATH": str(Path(scratch) / "db.sqlite3"),
                "LOG_LEVEL": "ERROR",
                "APNS_WATCH": watch,
            }
            results = [one_run(env) for _ in range(runs)]
            checks = [one_check(env) for _ in range(runs)]
            posting = {
                **env,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.url,
            }
            daily = [one_daily_check(posting, slack) for _ in range(runs)]
            bot = in_bot(posting, runs + 1)  # the first after a start, then `runs` later days
    finally:
        slack.close()
        fake.terminate()
        fake.wait(10)
        if fake.stdout is not None:
            fake.stdout.close()
    wall = statistics.median(r["wall_s"] for r in results)
    check_wall = statistics.median(r["wall_s"] for r in checks)
    daily_wall = statistics.median(r["wall_s"] for r in daily)
    later = bot[1:] or bot
    bot_wall = statistics.median(r["wall_s"] for r in later)
    return {
        "tenants": tenants,
        "graph_reads_per_pass": tenants * kinds,
        "graph_latency_s": latency,
        "runs": results,
        "check_runs": checks,
        "daily_check_runs": daily,
        "median_wall_s": wall,
        "median_check_wall_s": check_wall,
        "median_daily_check_wall_s": daily_wall,
        "in_bot_checks": bot,
        "in_bot_first_check_wall_s": bot[0]["wall_s"] if bot else None,
        "in_bot_median_later_check_wall_s": bot_wall,
        "median_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
        "sequential_floor_s": tenants * kinds * latency,
        "target_s": TARGET_SECONDS,
        # the target (issue 16) is the daily check: every check_all of the running bot, the first
        # after a start included; the one-shot CLI commands are judged apart (start-up included)
        "passed": max((r["wall_s"] for r in bot), default=TARGET_SECONDS) < TARGET_SECONDS
        and len(bot) == runs + 1
        and all(r["failed"] == 0 and r["tenants"] == tenants for r in bot),
        "cli_passed": max(wall, check_wall, daily_wall) < TARGET_SECONDS
        and all(r["failed"] == 0 and r["rows"] == tenants for r in results)
        and all(r["failed"] == 0 and r["items"] == tenants * kinds for r in checks + daily),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watch", default="push,ade,vpp", help="APNS_WATCH for the runs")
    args = parser.parse_args(argv)
    result = run(args.tenants, args.latency, args.runs, args.watch)
    print(json.dumps(result, indent=2))
    verdict = {True: "PASS", False: "MISS"}
    print(
        f"\nfleet check: {result['tenants']} tenants x {args.watch} "
        f"({result['graph_reads_per_pass']} Graph reads), {args.latency * 1000:.0f} ms each "
        f"(target < {TARGET_SECONDS:.0f} s; sequential floor {result['sequential_floor_s']:.0f} s)\n"
        f"  daily check in a running bot: first after a start "
        f"{result['in_bot_first_check_wall_s'] or 0:.2f} s, later days median "
        f"{result['in_bot_median_later_check_wall_s']:.2f} s — {verdict[result['passed']]}\n"
        f"  one-shot CLI (start-up included): status --all median {result['median_wall_s']:.2f} s, "
        f"check --no-post median {result['median_check_wall_s']:.2f} s, check (posting) median "
        f"{result['median_daily_check_wall_s']:.2f} s, peak RSS "
        f"{result['median_peak_rss_mb']:.0f} MB — {verdict[result['cli_passed']]}"
    )
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
