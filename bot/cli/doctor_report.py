"""What ``apns-bot doctor`` prints: one line per check (PASS, WARN, FAIL with a fix, SKIP), the
status line naming what is still waited for, and the counts."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TextIO

NETWORK_FIX = (
    "check the network, HTTPS_PROXY and SSL_CERT_FILE (a TLS-inspecting proxy's CA); "
    "APNS_NETWORK_TIMEOUT sets how long to wait"
)
DATABASE_FIX = "make APNS_DB_PATH point at a writable file on a persistent volume"
STATUSES = {"PASS": "passed", "WARN": "warned", "FAIL": "failed", "SKIP": "skipped"}
CHECKS_AFTER_SETTINGS = (
    "database",
    "slack",
    "slack scopes",
    "apple-ca",
    "entra sign-in",
    "graph read",
)


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # PASS, WARN, FAIL or SKIP
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Step:
    """One check; ``waiting_for`` names what it talks to, for the status line."""

    waiting_for: str
    run: Callable[[], list[Result]]


def summary(results: list[Result]) -> str:
    """``2 passed, 1 warned, 2 failed, 2 skipped``: one count per kind of line printed (passed and
    failed always, the others when there are any)."""
    counts = {status: sum(1 for r in results if r.status == status) for status in STATUSES}
    return ", ".join(
        f"{counts[status]} {word}"
        for status, word in STATUSES.items()
        if counts[status] or status in ("PASS", "FAIL")
    )


class Waiting:
    """The status line: ``…  waiting for slack.com (3 s)``, rewritten each second, then erased."""

    def __init__(self, out: TextIO, *, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled
        self.shown = False

    def until_done(self, future: Future[list[Result]], what: str) -> list[Result]:
        waited = 0
        while True:
            try:
                return future.result(timeout=1.0)
            except FutureTimeout:
                waited += 1
                if self.enabled and what:
                    self.out.write(f"\r…     waiting for {what} ({waited} s)")
                    self.out.flush()
                    self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.out.write("\r\033[K")
            self.shown = False


def show(results: list[Result], waiting: Waiting | None = None) -> None:
    if waiting is not None:
        waiting.clear()
    for r in results:
        print(f"{r.status:<4}  {r.name:<14} {r.detail}", flush=True)
        if r.fix:
            print(f"      {'':<14} fix: {r.fix}")
