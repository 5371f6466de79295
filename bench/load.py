"""The load generator: signed requests at a fixed concurrency, timed one by one (asyncio + httpx).

One event loop in the benchmark's own process; the server under test runs in another. A fixed number
of workers each keep one HTTP/1.1 connection and send their next request as soon as the previous one
is answered (a closed loop, like ``hey -c 50``). Each request is signed just before it is sent and
timed from just before the send until the whole answer has arrived.

A single shared ``httpx.AsyncClient`` with a fresh connection per request costs the generator ~2 ms
of CPU per request on this class of machine: it then saturates its core before the server does, and
both apps measure the generator. Per-worker clients with keep-alive cost ~1.2 ms, leaving headroom.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.payloads import fresh_trigger, signed

SLACK_DEADLINE = 3.0  # Slack fails an interaction not acknowledged within 3 s
CLIENT_TIMEOUT = 10.0  # per request; anything past SLACK_DEADLINE is already a failure
BURST_TIMEOUT = 300.0  # the whole burst, whatever happens


@dataclass(frozen=True)
class Sample:
    kind: str
    sent_at: float  # time.monotonic() just before sending
    seconds: float
    status: int | None  # None: no HTTP answer at all
    error: str | None = None  # the transport error (reset, refused, timeout...)


async def _burst(url: str, bodies: Sequence[tuple[str, bytes]], concurrency: int) -> list[Sample]:
    """``concurrency`` workers, each with its own connection, take the next body as soon as their
    previous request is answered (a closed loop, like ``hey -c 50``)."""
    results: list[Sample | None] = [None] * len(bodies)
    queue = iter(enumerate(bodies))
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # one TLS context for all (unused on plain http, but httpx would load a CA store per client)
    tls = ssl.create_default_context()
    clients = [
        httpx.AsyncClient(limits=limits, timeout=CLIENT_TIMEOUT, verify=tls)
        for _ in range(min(concurrency, len(bodies)))
    ]

    async def worker(client: httpx.AsyncClient) -> None:
        for index, (kind, template) in queue:
            body = fresh_trigger(template)
            headers = signed(body)
            sent_at = time.monotonic()
            start = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                elapsed = time.perf_counter() - start
                results[index] = Sample(kind, sent_at, elapsed, None, type(exc).__name__)
                continue
            elapsed = time.perf_counter() - start
            results[index] = Sample(kind, sent_at, elapsed, response.status_code)

    try:
        await asyncio.gather(*(worker(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    return [sample for sample in results if sample is not None]


def burst(url: str, bodies: Sequence[tuple[str, bytes]], concurrency: int) -> list[Sample]:
    """Send every body, at most ``concurrency`` in flight; one ``Sample`` per body, in order."""
    return asyncio.run(asyncio.wait_for(_burst(url, bodies, concurrency), BURST_TIMEOUT))


def sequential(url: str, bodies: Sequence[tuple[str, bytes]]) -> list[Sample]:
    """One at a time (warm-up): the first requests pay for lazy imports and first connections."""
    return burst(url, bodies, 1)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: Sequence[Sample], wall: float) -> dict[str, Any]:
    """Latency percentiles in ms over answered requests, and what went wrong."""
    answered = [s.seconds for s in samples if s.status is not None]
    by_kind: dict[str, float] = {}
    for kind in sorted({s.kind for s in samples}):
        times = [s.seconds for s in samples if s.kind == kind and s.status is not None]
        if times:
            by_kind[kind] = percentile(times, 99) * 1000
    errors: dict[str, int] = {}
    for s in samples:
        if s.error:
            errors[s.error] = errors.get(s.error, 0) + 1
    return {
        "requests": len(samples),
        "p50_ms": percentile(answered, 50) * 1000 if answered else math.nan,
        "p95_ms": percentile(answered, 95) * 1000 if answered else math.nan,
        "p99_ms": percentile(answered, 99) * 1000 if answered else math.nan,
        "max_ms": max(answered) * 1000 if answered else math.nan,
        "mean_ms": statistics.fmean(answered) * 1000 if answered else math.nan,
        "p99_by_kind_ms": by_kind,
        # late: answered after Slack's deadline, or never answered (both fail in Slack)
        "late": sum(1 for s in samples if s.status is None or s.seconds > SLACK_DEADLINE),
        "dropped": sum(1 for s in samples if s.status is None),
        "not_200": sum(1 for s in samples if s.status not in (None, 200)),
        "errors": errors,
        "wall_s": wall,
    }
