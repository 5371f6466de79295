"""``apns-bot status --all``: the fleet table, its JSON, and a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Settings
from bot.core.fleet import FleetRow
from bot.core.tokens import CredentialKind


class ProgressBar:
    """``[#####.....] 120/1000 tenants`` on one line of ``stream``, redrawn as rows complete."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.width, self.done = total, width, 0
        self.stream = stream or sys.stderr

    def __call__(self, row: FleetRow) -> None:
        self.done += 1
        filled = self.width * self.done // max(self.total, 1)
        failed = " (some failed)" if row.failed else ""
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} tenants{failed}"
        )
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def progress_for(settings: Settings, forced: bool) -> Callable[[FleetRow], None] | None:
    if forced or sys.stderr.isatty():
        return ProgressBar(len(settings.tenants))
    return None


def fleet_document(rows: list[FleetRow], now: datetime) -> dict[str, Any]:
    """Per tenant its most urgent item: ``state``, ``days_left``, ``expires_at``, ``kind``
    (push, ade, vpp; null when nothing watched exists), ``name`` and ``owner`` (its Apple ID, or
    a VPP token's organisation: the account to renew it with) are that item's (a tenant whose
    certificate could not be read still shows its worst token, beside ``error``); ``apple_id``,
    ``topic`` and ``serial`` stay the push certificate's; ``unread`` lists the token kinds that
    could not be read."""

    def row_document(row: FleetRow) -> dict[str, Any]:
        cert = row.certificate
        return {
            "tenant": row.tenant,
            "display_name": row.label,
            "state": row.state.value if row.state else "check_failed",
            "days_left": row.days_left,
            "expires_at": row.expires_at.astimezone(UTC).isoformat() if row.expires_at else None,
            "kind": row.kind.value if row.kind is not None else None,
            "name": row.name if row.kind is not None else None,
            "owner": item_owner(row),
            "unread": [kind.value for kind in row.unread],
            "apple_id": cert.apple_id if cert else None,
            "topic": cert.topic if cert else None,
            "serial": cert.serial if cert else None,
            "error": row.error,
        }

    return {
        "checked_at": now.astimezone(UTC).isoformat(),
        "tenants": [row_document(r) for r in rows],
    }


def item_owner(row: FleetRow) -> str | None:
    """The Apple ID (or a VPP token's organisation) of the row's most urgent item: the one to
    renew it with. The certificate's Apple ID when that item is the certificate."""
    if row.kind is None:
        return None
    if row.kind is CredentialKind.PUSH:
        return row.certificate.apple_id if row.certificate else None
    return row.owner


def fleet_table(rows: list[FleetRow]) -> str:
    header = ("TENANT", "STATE", "DAYS", "EXPIRES", "KIND", "ITEM", "APPLE ID / ORG")
    lines = [header]
    for row in rows:
        unread = f" ({', '.join(k.value for k in row.unread)} not read)" if row.unread else ""
        lines.append(
            (
                row.tenant,
                row.state.value.replace("_", " ") if row.state else "CHECK FAILED",
                "" if row.days_left is None else str(row.days_left),
                f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "",
                row.kind.value if row.kind is not None else "",
                (row.name or "") if row.kind is not None else "",
                ((row.error or "") if row.failed else (item_owner(row) or "")) + unread,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )
