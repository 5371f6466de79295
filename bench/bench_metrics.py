"""What ``GET /metrics`` costs for a large fleet: 1,000 tenants, each with its push certificate,
two ADE tokens and one VPP token (4,000 expiry series), every check result recorded.

Measures the time to record the 1,000 check results (the watch's ``on_checked``), the scrape over
a real socket from the metrics server (``APNS_METRICS_PORT``; median and worst of 20), and the
size of the answer. The target: a scrape well under Prometheus's default 10 s scrape timeout.

    python -m bench.bench_metrics [TENANTS]
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.adapters.metrics import PrometheusMetrics
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState
from bot.core.tokens import AppleToken, CredentialKind, TokenRead
from bot.runtime.metrics_http import make_metrics_server
from bot.usecases.watch import CheckResult

SCRAPES = 20


def result(tenant: int, now: datetime) -> CheckResult:
    def token(kind: CredentialKind, n: int) -> AppleToken:
        return AppleToken(
            id=f"{kind}-{tenant}-{n}",
            kind=kind,
            name=f"Tenant {tenant} {kind} token {n}",
            apple_id=f"abm-{tenant}@example.com",
            organization=f"Organisation {tenant}",
            expires_at=now + timedelta(days=(tenant * 7 + n) % 365),
        )

    ade = TokenRead(
        CredentialKind.ADE, (token(CredentialKind.ADE, 1), token(CredentialKind.ADE, 2))
    )
    vpp = TokenRead(CredentialKind.VPP, (token(CredentialKind.VPP, 1),))
    certificate = TenantCertificate(
        apple_id=f"mdm-{tenant}@example.com",
        topic=f"com.apple.mgmt.External.{tenant:08d}-0000-0000-0000-000000000000",
        serial=f"{tenant:016X}",
        expires_at=now + timedelta(days=tenant % 365),
    )
    return CheckResult(
        f"tenant-{tenant:04d}", CheckState.OK, now, certificate=certificate, tokens=(ade, vpp)
    )


def main(tenants: int) -> None:
    now = datetime.now(UTC)
    metrics = PrometheusMetrics()
    results = [result(n, now) for n in range(tenants)]
    started = time.perf_counter()
    for checked in results:
        metrics.observe(checked)
    recorded = time.perf_counter() - started
    server = make_metrics_server(metrics.exposition, "127.0.0.1", 0, loop_timeout=0.05)
    thread = threading.Thread(target=_serve, args=(server,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}/metrics"
    times: list[float] = []
    cached: list[float] = []
    size = packed = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(SCRAPES):
            metrics.observe(results[0])  # a change: this scrape renders afresh
            started = time.perf_counter()
            response = client.get(url, headers={"Accept-Encoding": "identity"})
            times.append(time.perf_counter() - started)
            size = len(response.content)
            started = time.perf_counter()
            client.get(url, headers={"Accept-Encoding": "identity"})  # nothing moved: reused
            cached.append(time.perf_counter() - started)
        gzipped = client.get(url, headers={"Accept-Encoding": "gzip"})
        packed = int(gzipped.headers["content-length"])
    server.close()
    thread.join(5)
    print(f"{tenants} tenants, {tenants * 4} expiry series")
    print(f"record {tenants} check results: {recorded * 1000:.1f} ms")
    print(
        f"scrape over HTTP: median {statistics.median(times) * 1000:.1f} ms, "
        f"worst {max(times) * 1000:.1f} ms of {SCRAPES}; {size / 1024:.0f} KiB "
        f"({packed / 1024:.0f} KiB gzipped)"
    )
    print(f"scrape reusing the last render: median {statistics.median(cached) * 1000:.1f} ms")


def _serve(server: Any) -> None:
    with contextlib.suppress(OSError):  # waitress's loop ends so when its sockets close
        server.run()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
