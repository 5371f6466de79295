"""``make bench`` / ``python -m bench``: every benchmark of issue 7, each figure a median of runs.

    python -m bench                      # all four, 5 runs of the burst, 3 of the others
    python -m bench --quick              # one run of each (a smoke test, ~1 minute)
    python -m bench --only ack           # ack | approve | footprint | cert (repeatable)
    python -m bench --write-docs         # also rewrite docs/benchmarks.md from this run
    python -m bench --docs-from bench/results/<run>.json   # rewrite it from a saved run
    python -m bench --only ack --only approve --database-url postgresql://postgres@127.0.0.1/test

Prints a Markdown table, writes the full figures as JSON to bench/results/ (git-ignored) and exits
1 when a target is missed. Processes it starts are stopped whatever happens; all traffic stays on
127.0.0.1. Not a test: ``make test`` never runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.procs import REPO, Pinning

NAMES = ("ack", "approve", "footprint", "cert")
RUNS = {"ack": 5, "approve": 3, "footprint": 3, "cert": 3}
CERT_ROUNDS = {"full": 500, "quick": 200}


KEEP_MARKER = "<!-- kept: written by other benchmarks, not by --write-docs -->"


def kept_sections(docs: Path) -> str:
    """What follows ``KEEP_MARKER`` in the page (the fleet check's figures), kept on rewrite."""
    text = docs.read_text() if docs.exists() else ""
    at = text.find(KEEP_MARKER)
    return "\n" + text[at:] if at >= 0 else ""


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _rounds(
    name: str, runs: int, workdir: Path, one: Callable[[Path], dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for n in range(runs):
        started = time.monotonic()
        out.append(one(workdir / f"{name}-{n}"))
        print(f"  {name} run {n + 1}/{runs}: {time.monotonic() - started:.0f}s", flush=True)
    return out


def summarize_ack(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(app: str, key: str) -> float:
        return _median([r[app][key] for r in rounds])

    figures: dict[str, Any] = {
        app: {
            key: med(app, key)
            for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "cpu_ms_per_request")
        }
        for app in ("bot", "bare")
    }
    for app in ("bot", "bare"):
        # never hidden by a median: a late or dropped request in any run counts
        figures[app]["late"] = sum(r[app]["late"] for r in rounds)
        figures[app]["dropped"] = sum(r[app]["dropped"] for r in rounds)
        figures[app]["not_200"] = sum(r[app]["not_200"] for r in rounds)
        figures[app]["requests"] = sum(r[app]["requests"] for r in rounds)
        figures[app]["client_cpu_ms_per_request"] = med(app, "client_cpu_ms_per_request")
        figures[app]["generator_core_busy"] = _median(
            [r[app].get("generator_core_busy", math.nan) for r in rounds]
        )
    figures["ratio_p99"] = _median([r["ratio_p99"] for r in rounds])
    figures["ratio_p99_runs"] = [r["ratio_p99"] for r in rounds]
    kinds = rounds[0]["bot"]["p99_by_kind_ms"].keys()
    figures["bot"]["p99_by_kind_ms"] = {
        k: _median([r["bot"]["p99_by_kind_ms"][k] for r in rounds]) for k in kinds
    }
    figures["bare"]["p99_by_kind_ms"] = {
        k: _median([r["bare"]["p99_by_kind_ms"][k] for r in rounds]) for k in kinds
    }
    figures["views_open"] = {
        "p50_ms": _median([r["bot"]["views_open"]["p50_ms"] for r in rounds]),
        "p99_ms": _median([r["bot"]["views_open"]["p99_ms"] for r in rounds]),
        "max_ms": max(r["bot"]["views_open"]["max_ms"] for r in rounds),
        "late": sum(r["bot"]["views_open"]["late"] for r in rounds),
        "expected": sum(r["bot"]["views_open"]["expected"] for r in rounds),
    }
    figures["graph_requests_during_burst"] = _median(
        [r["bot"]["graph_requests_during_burst"] for r in rounds]
    )
    return figures


def summarize_approve(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    last = rounds[-1]["approvals"][-1]
    return {
        "graph_latency_ms": rounds[0]["graph_latency_ms"],
        "total_ms": _median([r["total_ms"] for r in rounds]),
        "overhead_ms": _median([r["overhead_ms"] for r in rounds]),
        "graph_call_count": _median([r["graph_call_count"] for r in rounds]),
        "ack_ms": _median([a["ack_ms"] for r in rounds for a in r["approvals"]]),
        "graph_calls": last["graph_calls"],
        "slack_calls": last["slack_calls"],
        "approvals": sum(len(r["approvals"]) for r in rounds),
    }


def summarize_footprint(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("startup_s", "rss_after_startup_mb", "rss_after_requests_mb", "rss_peak_mb")
    figures: dict[str, Any] = {
        app: {key: _median([r[app][key] for r in rounds]) for key in keys}
        for app in ("bot", "bare")
    }
    for app in ("bot", "bare"):
        figures[app]["requests_failed"] = sum(r[app]["requests_failed"] for r in rounds)
        figures[app]["background_drained"] = all(r[app]["background_drained"] for r in rounds)
    return figures


def summarize_cert(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    inputs = rounds[0]["inputs"].keys()
    return {
        "worst_p95_ms": _median([r["worst_p95_ms"] for r in rounds]),
        "worst_median_ms": _median([r["worst_median_ms"] for r in rounds]),
        "inputs": {
            name: {
                key: _median([r["inputs"][name][key] for r in rounds])
                for key in ("median_ms", "p95_ms", "max_ms")
            }
            for name in inputs
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each benchmark")
    parser.add_argument(
        "--only", action="append", choices=NAMES, metavar="NAME", help=f"one of {NAMES}"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per benchmark (override)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not give the server under test a core of its own"
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite docs/benchmarks.md from this run"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch folder (servers' logs, databases)"
    )
    parser.add_argument(
        "--docs-from",
        type=Path,
        metavar="JSON",
        help="rewrite docs/benchmarks.md from a saved bench/results/*.json, run nothing",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="the bot's store on PostgreSQL (a fresh schema per round) instead of SQLite",
    )
    args = parser.parse_args(argv)
    scenarios.DATABASE_URL = args.database_url
    if args.docs_from is not None:
        saved = json.loads(args.docs_from.read_text())
        docs = REPO / "docs" / "benchmarks.md"
        docs.write_text(
            report.document(saved["machine"], saved["run"], saved["results"], saved["verdicts"])
            + kept_sections(docs)
        )
        print(f"wrote {docs.relative_to(REPO)} from {args.docs_from}")
        return 0
    selected = args.only or list(NAMES)
    if not args.no_pin:
        Pinning.enable()
    machine = report.machine(pinned=Pinning.server is not None)
    print(report.machine_line(machine), flush=True)

    def runs(name: str) -> int:
        return args.runs or (1 if args.quick else RUNS[name])

    workdir = Path(tempfile.mkdtemp(prefix="apns-bench-"))
    results: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    try:
        if "ack" in selected:
            raw["ack"] = _rounds("ack", runs("ack"), workdir, scenarios.ack_round)
            results["ack"] = summarize_ack(raw["ack"])
        if "approve" in selected:
            raw["approve"] = _rounds("approve", runs("approve"), workdir, scenarios.approve_round)
            results["approve"] = summarize_approve(raw["approve"])
        if "footprint" in selected:
            raw["footprint"] = _rounds(
                "footprint", runs("footprint"), workdir, scenarios.footprint_round
            )
            results["footprint"] = summarize_footprint(raw["footprint"])
        if "cert" in selected:
            rounds = CERT_ROUNDS["quick" if args.quick else "full"]
            raw["cert"] = [scenarios.certificate_round(rounds) for _ in range(runs("cert"))]
            results["cert"] = summarize_cert(raw["cert"])
    finally:
        if args.keep:
            print(f"scratch folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    verdicts = report.verdicts(results)
    run_info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench" + (" ARGS=--quick" if args.quick else ""),
        "runs": {name: runs(name) for name in selected},
        "store": "PostgreSQL" if args.database_url else "SQLite",
    }
    table = report.table(results, verdicts)
    print()
    print(table)
    out_dir = REPO / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}.json"
    document = {
        "machine": machine,
        "run": run_info,
        "results": results,
        "verdicts": verdicts,
        "raw": raw,
    }
    path.write_text(json.dumps(document, indent=1, default=str))
    print(f"\nfull figures: {path.relative_to(REPO)}")
    if args.write_docs:
        docs = REPO / "docs" / "benchmarks.md"
        docs.write_text(report.document(machine, run_info, results, verdicts) + kept_sections(docs))
        print(f"wrote {docs.relative_to(REPO)}")
    return 0 if all(v["pass"] for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
