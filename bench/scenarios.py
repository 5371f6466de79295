"""The benchmarks of issue 7. Each function runs one round in fresh processes and returns figures.

- ``ack_round``: 500 signed requests, 50 in flight, while every Graph call takes 2 s; apns-bot and
  the bare Bolt app, one after the other, on the same server setup.
- ``approve_round``: approving click -> "renewed" message at the fake Slack, Graph at 300 ms.
- ``footprint_round``: start-up (spawn -> first answer) and resident memory before and after 1,000
  requests.
- ``certificate_round``: ``bench.bench_certificate``'s inputs, parse + checks per certificate.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import bench_certificate
from bench.fakes import FakesProcess
from bench.load import SLACK_DEADLINE, Sample, burst, percentile, sequential, summarize
from bench.payloads import Recorder, approve_click, mix, renew_submission, signed, trigger_id
from bench.procs import (
    Child,
    cpu_seconds,
    events_url,
    free_port,
    rss_mb,
    spawn_bare,
    spawn_bot,
    wait_answering,
)
from bot.slack.ids import Action
from tests.harness import CHANNEL
from tests.pg import fresh_schema

ACK_REQUESTS = 500
ACK_CONCURRENCY = 50
ACK_GRAPH_LATENCY = 2.0
WARM_UP = 8  # sequential requests (two of each kind) before a measured burst
APPROVE_GRAPH_LATENCY = 0.3
APPROVALS_PER_ROUND = 3
FOOTPRINT_REQUESTS = 1000
FOOTPRINT_CONCURRENCY = 10
FOOTPRINT_GRAPH_LATENCY = 0.3
# --database-url: the bot's store on PostgreSQL (a fresh schema per round) instead of SQLite
DATABASE_URL: str | None = None


@contextmanager
def store_settings(settings: dict[str, str]) -> Iterator[dict[str, str]]:
    """The bot's settings with its store: SQLite in the scratch folder, or a fresh PostgreSQL
    schema (dropped afterwards) when ``DATABASE_URL`` is set."""
    if DATABASE_URL is None:
        yield settings
        return
    with fresh_schema(DATABASE_URL) as url:
        yield {**settings, "APNS_DATABASE_URL": url}


def _measure_burst(
    child: Child, port: int, bodies: list[tuple[str, bytes]], fakes: FakesProcess | None = None
) -> dict[str, Any]:
    url = events_url(port)
    sequential(url, bodies[:WARM_UP])
    before = fakes.ask("activity") if fakes is not None else None
    fakes_cpu = cpu_seconds(fakes.child.pid) if fakes is not None else 0.0
    cpu = cpu_seconds(child.pid)
    burst_start = time.monotonic()
    client_cpu = time.process_time()
    started = time.perf_counter()
    samples = burst(url, bodies[WARM_UP:], ACK_CONCURRENCY)
    stats = summarize(samples, time.perf_counter() - started)
    client_seconds = time.process_time() - client_cpu
    stats["client_cpu_ms_per_request"] = client_seconds * 1000 / len(samples)
    # how busy the load generator's core was (it shares it with the fakes): near 1.0, the figures
    # would measure the generator's own queue rather than the server
    fakes_seconds = cpu_seconds(fakes.child.pid) - fakes_cpu if fakes is not None else 0.0
    stats["generator_core_busy"] = (client_seconds + fakes_seconds) / stats["wall_s"]
    # the server's CPU (all its threads) while the burst lasted, per request
    stats["cpu_ms_per_request"] = (cpu_seconds(child.pid) - cpu) * 1000 / len(samples)
    if fakes is not None and before is not None:
        stats["slack_calls_by_method"] = fakes.ask("slack_methods", since=burst_start)
        stats["views_open"] = _views_open_delays(fakes, bodies[WARM_UP:], samples)
        after = fakes.ask("activity")
        # what the bot's own executor got done while the burst was being acknowledged
        stats["graph_requests_during_burst"] = after["graph"] - before["graph"]
        stats["slack_calls_during_burst"] = after["slack"] - before["slack"]
    if not child.alive():
        raise RuntimeError(f"the server died during the burst:\n{child.tail()}")
    return stats


def _serial(trigger: str | None) -> str:
    return (trigger or "").split(".")[0]


def _views_open_delays(
    fakes: FakesProcess, bodies: list[tuple[str, bytes]], samples: list[Sample]
) -> dict[str, Any]:
    """From each request that opens a modal (/apns renew, Reject) to its ``views.open`` arriving
    at the fake Slack: a ``trigger_id`` is good for 3 s, so this too must stay under 3 s."""
    fakes.wait_quiet(quiet=0.5, timeout=15)  # views.open of the last requests may still be coming
    # keyed by the trigger's serial (its first part): the load generator re-stamps its time
    sent = {
        _serial(trigger_id(body)): sample.sent_at
        for (_, body), sample in zip(bodies, samples, strict=True)
    }
    start = min(sample.sent_at for sample in samples)
    delays = [
        call["at"] - sent[_serial(call["params"].get("trigger_id"))]
        for call in fakes.ask("slack_calls", method="views.open", since=start)
        if _serial(call["params"].get("trigger_id")) in sent
    ]
    expected = sum(1 for kind, body in bodies if kind in {"renew"} or b"apns.reject" in body)
    return {
        "expected": expected,
        "opened": len(delays),
        "p50_ms": percentile(delays, 50) * 1000 if delays else math.nan,
        "p99_ms": percentile(delays, 99) * 1000 if delays else math.nan,
        "max_ms": max(delays) * 1000 if delays else math.nan,
        "late": sum(1 for d in delays if d > SLACK_DEADLINE) + expected - len(delays),
    }


def _warm_graph(fakes: FakesProcess, port: int) -> None:
    """One ``/apns status`` answered end to end before the burst: the bot has signed in to Entra
    (discovery and token, 2 s each here), so during the burst its background work really is
    waiting on 2-second Graph calls instead of queueing behind the first sign-in."""
    since = time.monotonic()
    recorder = Recorder("", fakes.slack_base)
    recorder.command("status", channel=CHANNEL)
    body = recorder.bodies[0][1]
    httpx.post(events_url(port), content=body, headers=signed(body), timeout=10).raise_for_status()
    fakes.wait_for_slack("response_url", lambda p: "Serial" in json.dumps(p), since, timeout=60)


def ack_round(workdir: Path) -> dict[str, Any]:
    """apns-bot, then the bare app, each fresh, each sent the same mix of 500 requests."""
    workdir.mkdir(parents=True, exist_ok=True)
    with FakesProcess(workdir / "fakes", ACK_GRAPH_LATENCY) as fakes:
        bodies = mix(WARM_UP + ACK_REQUESTS, fakes.slack_base, fakes.file)
        port = free_port()
        with store_settings(fakes.settings) as settings, spawn_bot(settings, port, workdir) as bot:
            wait_answering(bot, port)
            _warm_graph(fakes, port)
            bot_stats = _measure_burst(bot, port, bodies, fakes)
    port = free_port()
    with spawn_bare(port, workdir) as bare:
        wait_answering(bare, port)
        bare_stats = _measure_burst(bare, port, bodies)
    return {
        "bot": bot_stats,
        "bare": bare_stats,
        "ratio_p99": bot_stats["p99_ms"] / bare_stats["p99_ms"],
    }


def _approve_button_value(params: dict[str, Any]) -> str:
    blocks = params.get("blocks")
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    for block in blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == Action.APPROVE:
                return str(element["value"])
    raise RuntimeError("the approval message has no Approve button")


def _has_approve(params: dict[str, Any]) -> bool:
    return Action.APPROVE.value in json.dumps(params.get("blocks"))


def _is_renewed(params: dict[str, Any]) -> bool:
    return "renewed" in str(params.get("text", ""))


def approve_round(workdir: Path) -> dict[str, Any]:
    """A few renewals in one bot: submit, wait until it is posted and idle, then time Approve."""
    workdir.mkdir(parents=True, exist_ok=True)
    latency = APPROVE_GRAPH_LATENCY
    approvals: list[dict[str, Any]] = []
    with FakesProcess(workdir / "fakes", latency) as fakes:
        port = free_port()
        url = events_url(port)
        with (
            store_settings(fakes.settings) as settings,
            spawn_bot(settings, port, workdir) as bot,
            httpx.Client(timeout=10) as client,
        ):
            wait_answering(bot, port)
            for n in range(APPROVALS_PER_ROUND):
                entry = fakes.file if n == 0 else fakes.ask("new_file")
                since = time.monotonic()
                body = renew_submission(fakes.slack_base, entry)
                client.post(url, content=body, headers=signed(body)).raise_for_status()
                message = fakes.wait_for_slack("chat.postMessage", _has_approve, since)
                request_id = _approve_button_value(message["params"])
                fakes.wait_for_slack(
                    "views.update", lambda p: "sent for approval" in json.dumps(p), since
                )
                fakes.wait_quiet(quiet=0.5, timeout=30)  # nothing of the submission still running

                body = approve_click(fakes.slack_base, request_id)
                headers = signed(body)
                clicked = time.monotonic()
                client.post(url, content=body, headers=headers).raise_for_status()
                acked = time.monotonic()
                posted = fakes.wait_for_slack("chat.postMessage", _is_renewed, clicked)
                total = posted["at"] - clicked
                graph = [
                    g for g in fakes.ask("graph_requests", since=clicked) if g["at"] <= posted["at"]
                ]
                slack = [
                    m
                    for m in ("chat.update", "chat.postMessage", "response_url")
                    for c in fakes.ask("slack_calls", method=m, since=clicked)
                    if c["at"] <= posted["at"]
                ]
                approvals.append(
                    {
                        "ack_ms": (acked - clicked) * 1000,
                        "total_ms": total * 1000,
                        "graph_calls": [f"{g['method']} {g['path']}" for g in graph],
                        "slack_calls": slack,
                        "graph_ms": len(graph) * latency * 1000,
                        "overhead_ms": (total - len(graph) * latency) * 1000,
                    }
                )
    return {
        "graph_latency_ms": latency * 1000,
        "approvals": approvals,
        "total_ms": statistics.median(a["total_ms"] for a in approvals),
        "overhead_ms": statistics.median(a["overhead_ms"] for a in approvals),
        "graph_call_count": statistics.median(len(a["graph_calls"]) for a in approvals),
    }


def _footprint_of(child: Child, port: int, fakes: FakesProcess | None) -> dict[str, Any]:
    startup = wait_answering(child, port)
    if fakes is not None:
        fakes.wait_quiet(quiet=1.0, timeout=30)  # start-up jobs (reconcile) finished
    else:
        time.sleep(1.0)
    rss_start, _ = rss_mb(child.pid)
    slack_base = fakes.slack_base if fakes is not None else "http://127.0.0.1:9"
    file_entry = fakes.file if fakes is not None else {"id": "F0", "name": "x", "size": 1}
    bodies = mix(FOOTPRINT_REQUESTS, slack_base, file_entry)
    started = time.perf_counter()
    samples = burst(events_url(port), bodies, FOOTPRINT_CONCURRENCY)
    stats = summarize(samples, time.perf_counter() - started)
    drained = fakes.wait_quiet(quiet=2.0, timeout=180) if fakes is not None else True
    rss_after, peak = rss_mb(child.pid)
    return {
        "startup_s": startup,
        "rss_after_startup_mb": rss_start,
        "rss_after_requests_mb": rss_after,
        "rss_peak_mb": peak,
        "requests": stats["requests"],
        "requests_failed": stats["dropped"] + stats["not_200"],
        "background_drained": drained,
    }


def footprint_round(workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    with FakesProcess(workdir / "fakes", FOOTPRINT_GRAPH_LATENCY) as fakes:
        port = free_port()
        with spawn_bot(fakes.settings, port, workdir) as bot:
            bot_figures = _footprint_of(bot, port, fakes)
    port = free_port()
    with spawn_bare(port, workdir) as bare:
        bare_figures = _footprint_of(bare, port, None)
    return {"bot": bot_figures, "bare": bare_figures}


def certificate_round(rounds: int) -> dict[str, Any]:
    results = bench_certificate.results(rounds)
    return {
        "inputs": results,
        "worst_p95_ms": max(r["p95_ms"] for r in results.values()),
        "worst_median_ms": max(r["median_ms"] for r in results.values()),
    }
