"""Time per certificate for the pre-flight: parse + every check, chain verification included.

    python -m bench.bench_certificate [--rounds 500]

Prints median and p95 per certificate for each input kind; the target is under 5 ms. Inputs are
generated in memory (nothing is written anywhere); the real Apple certificate is added when
``../shared/fixtures/apple`` is present.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from bot.core.chain import TrustAnchors
from bot.core.checks import Inspection, inspect_certificate
from bot.core.model import TenantCertificate
from tests.certgen import (
    APPLE_FIXTURES,
    REAL_CA_FILES,
    REAL_PUSH_CERT,
    apple_ca,
    bundle,
    make_push_cert,
)

TARGET_MS = 5.0


def _cases() -> dict[str, tuple[bytes, datetime, TrustAnchors, TenantCertificate | None]]:
    now = datetime.now(UTC)
    ca = apple_ca()
    current = make_push_cert()
    renewal = make_push_cert(topic_uuid=current.uuid)
    tenant = TenantCertificate(
        "admin@example.com", current.topic, current.serial, current.not_after
    )
    trust = ca.trust_anchors()
    cases = {
        "generated PEM renewal": (renewal.pem, now, trust, tenant),
        "generated DER, first upload": (renewal.der, now, trust, None),
        "generated bundle (3 certs)": (
            bundle(ca.root.pem, renewal.pem, ca.intermediate.pem),
            now,
            trust,
            tenant,
        ),
        "refused: PEM with key": (renewal.with_key(), now, trust, tenant),
        "refused: .p12": (renewal.pkcs12(b"pw"), now, trust, tenant),
    }
    if APPLE_FIXTURES.exists():
        intermediate, root = (
            x509.load_der_x509_certificate((APPLE_FIXTURES / name).read_bytes())
            for name in REAL_CA_FILES
        )
        real_trust = TrustAnchors((intermediate,), (root,), source="fixtures")
        real = (APPLE_FIXTURES / REAL_PUSH_CERT).read_bytes()
        cases["real Apple certificate (2021)"] = (
            real,
            datetime(2021, 5, 3, tzinfo=UTC),
            real_trust,
            None,
        )
    return cases


def measure(run: Callable[[], Inspection], rounds: int) -> list[float]:
    for _ in range(min(20, rounds)):  # warm-up
        run()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def results(rounds: int = 500) -> dict[str, dict[str, float]]:
    """Per input: median, p95 and max milliseconds per certificate over ``rounds`` timed runs."""
    out: dict[str, dict[str, float]] = {}
    for name, (data, now, trust, current) in _cases().items():
        run = functools.partial(
            inspect_certificate,
            data,
            now=now,
            apple_id="admin@example.com",
            current=current,
            trust=trust,
        )
        samples = sorted(measure(run, rounds))
        out[name] = {
            "median_ms": statistics.median(samples),
            "p95_ms": samples[int(len(samples) * 0.95) - 1],
            "max_ms": samples[-1],
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500, help="timed runs per input")
    args = parser.parse_args()
    worst = 0.0
    print(f"{'input':<32}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, figures in results(args.rounds).items():
        worst = max(worst, figures["p95_ms"])
        print(
            f"{name:<32}{figures['median_ms']:>11.3f}{figures['p95_ms']:>9.3f}"
            f"{figures['max_ms']:>9.3f}"
        )
    verdict = "OK" if worst < TARGET_MS else "OVER TARGET"
    print(f"worst p95 {worst:.3f} ms; target < {TARGET_MS} ms per certificate: {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
