"""One line of ``apns-bot doctor``'s report (shared by its checks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # PASS, WARN or FAIL
    detail: str
    fix: str | None = None
