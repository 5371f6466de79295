"""The daily check inside one long-running bot process, timed: ``python -m bench.fleet_daily RUNS``.

Run by ``bench.bench_fleet`` with the same settings as the CLI runs (tenants file, fake Entra +
Graph, fake Slack). It builds the bot's dependencies as ``apns-bot run`` does (``build_deps``) and
calls ``Watch.check_all`` — what the scheduler calls once a day — ``RUNS`` times in this process.
The first call is the first check after a start (every tenant's MSAL app discovers its tenant and
signs in). The later ones are the following days: the apps and the connection pools are kept, and
the fake hands out tokens that live five minutes, which MSAL and the provider treat as expired,
so each call signs every tenant in again, as a day later. Prints one JSON line per call: wall
time, CPU time of this process, and how many tenants failed.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from bot.config import load_settings
from bot.core.reminders import CheckState
from bot.runtime.compose import build_deps


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 3
    settings = load_settings(os.environ, need_slack=True, need_graph=True)
    deps = build_deps(settings)
    try:
        for _ in range(runs):
            started, cpu = time.perf_counter(), _cpu()
            results = deps.watch.check_all()
            line = {
                "wall_s": time.perf_counter() - started,
                "cpu_s": _cpu() - cpu,
                "tenants": len(results),
                "failed": sum(1 for r in results if r.state is CheckState.FAILED),
            }
            print(json.dumps(line), flush=True)
    finally:
        deps.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
