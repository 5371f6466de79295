"""The load generator: signed requests at a fixed concurrency, timed one by one (raw asyncio HTTP/1.1).

One event loop in the benchmark's own process; the server under test runs in another. A fixed number
of workers each keep one HTTP/1.1 connection and send their next request as soon as the previous one
is answered (a closed loop, like ``hey -c 50``). Each request is signed just before it is sent and
timed from just before the send until the whole answer has arrived.

Why not httpx: an ``httpx.AsyncClient`` costs the generator 1.6-1.8 ms of CPU per request on this
class of machine, more than either server under test spends answering it. With 50 in flight the
generator's core then ran at 97-99 % in both apps' bursts, so the latencies measured its own queue
more than the servers (and the fakes' work for apns-bot, on the same core, slowed it further). This
client writes each request as prepared bytes and reads the status line, the headers and the body
(``Content-Length`` or chunked), about a tenth of that CPU, and ``Sample``s carry how busy the
generator was so a report can show the instrument kept headroom.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.payloads import fresh_trigger, signed

SLACK_DEADLINE = 3.0  # Slack fails an interaction not acknowledged within 3 s
CLIENT_TIMEOUT = 10.0  # per request; anything past SLACK_DEADLINE is already a failure
BURST_TIMEOUT = 300.0  # the whole burst, whatever happens
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Sample:
    kind: str
    sent_at: float  # time.monotonic() just before sending
    seconds: float
    status: int | None  # None: no HTTP answer at all
    error: str | None = None  # the transport error (reset, refused, timeout...)


class ProtocolError(Exception):
    """The server's answer was not well-formed HTTP/1.1."""


def _request_bytes(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    fields = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in fields.items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1") + body


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:  # no end of headers within the reader's limit
        raise ProtocolError("response headers too large") from exc
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
    try:
        status = int(rest.split(" ", 1)[0])
    except ValueError as exc:
        raise ProtocolError(f"no status code in {status_line[:40]!r}") from exc
    fields: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return version, status, fields


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response to a POST; (status, whether the server keeps the connection open)."""
    version, status, fields = await _read_head(reader)
    while 100 <= status < 200:  # interim answers (100 Continue...): the final one follows
        version, status, fields = await _read_head(reader)
    keep_alive = version == "HTTP/1.1" and "close" not in _tokens(fields.get("connection", ""))
    if "chunked" in _tokens(fields.get("transfer-encoding", "")):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            await reader.readexactly(size + 2)  # the chunk and its CRLF
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, then an empty line
            pass
    elif "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif status not in (204, 304):
        await reader.read()  # delimited by the server closing the connection
        keep_alive = False
    return status, keep_alive


class _Connection:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> int:
        reused = self.writer is not None
        try:
            return await self._exchange(request)
        except asyncio.IncompleteReadError as exc:
            # not one byte back on a kept-alive connection: the server had closed it while idle
            # (a reset, or an answer cut short, stays a failure: the benchmark counts those)
            if not reused or exc.partial:
                raise
        return await self._exchange(request)

    async def _exchange(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEADER_BYTES
            )
        assert self.reader is not None
        try:
            self.writer.write(request)
            status, keep_alive = await _read_response(self.reader)
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _burst(url: str, bodies: Sequence[tuple[str, bytes]], concurrency: int) -> list[Sample]:
    """``concurrency`` workers, each with its own connection, take the next body as soon as their
    previous request is answered (a closed loop, like ``hey -c 50``)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"the load generator speaks plain HTTP to loopback, not {url}")
    host, port = parts.hostname, parts.port or 80
    path = parts.path or "/"
    authority = f"{host}:{port}"
    results: list[Sample | None] = [None] * len(bodies)
    queue = iter(enumerate(bodies))

    async def worker() -> None:
        connection = _Connection(host, port)
        try:
            for index, (kind, template) in queue:
                body = fresh_trigger(template)
                request = _request_bytes(authority, path, body, signed(body))
                sent_at = time.monotonic()
                start = time.perf_counter()
                try:
                    status = await asyncio.wait_for(connection.exchange(request), CLIENT_TIMEOUT)
                except (
                    OSError,
                    EOFError,
                    ProtocolError,
                    TimeoutError,
                    ValueError,
                    asyncio.LimitOverrunError,
                ) as exc:
                    elapsed = time.perf_counter() - start
                    results[index] = Sample(kind, sent_at, elapsed, None, type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - start
                results[index] = Sample(kind, sent_at, elapsed, status)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(bodies)))))
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
