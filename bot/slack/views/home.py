"""The App Home tab: per tenant, the certificate card, open requests, the latest events, buttons.

The card is the ``/apns status`` card (its emoji colours it by urgency). A tenant whose certificate
could not be read shows the last certificate the watch saw, saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.config import TenantSettings
from bot.core.fleet import FleetRow
from bot.core.items import WatchItem
from bot.core.model import TenantCertificate
from bot.core.requests import AuditEvent, ChangeRequest, Status
from bot.slack.views.blocks import code, context, escape, header, section, slack_date
from bot.slack.views.history import history_lines
from bot.slack.views.items import tenant_status_message
from bot.slack.views.reminders import renewal_buttons
from bot.slack.views.status import fleet_message
from bot.usecases.watch_state import FailingCheck

MAX_BLOCKS = 100  # Slack's limit for a Home tab view

REQUEST_STATE = {
    Status.PENDING: ":hourglass_flowing_sand: waiting for approval",
    Status.APPROVED: ":gear: approved, uploading",
    Status.APPLYING: ":gear: uploading to Intune",
    Status.FAILED: ":x: upload failed — *Retry upload* is on the request",
}


@dataclass(frozen=True)
class TenantHome:
    """What the Home tab shows for one tenant."""

    tenant: TenantSettings
    certificate: TenantCertificate | None
    items: Sequence[WatchItem] = ()  # every watched item, worst first
    note: str | None = None  # why the card is not a fresh read
    failing: FailingCheck | None = None  # the check has been failing since, why
    open_requests: Sequence[ChangeRequest] = field(default_factory=tuple)
    events: Sequence[AuditEvent] = field(default_factory=tuple)


def request_line(request: ChangeRequest, required: int) -> str:
    state = REQUEST_STATE.get(request.status, request.status.value)
    if request.token is not None:  # an ADE or VPP token: its name, and the new expiry if known
        change = request.token
        what = f"{change.kind.value.upper()} token {escape(change.label)}"
        expiry = f", expires {change.new_expiry:%Y-%m-%d}" if change.new_expiry else ""
        line = f"• `{request.id}` by <@{request.requester}> — {state} — {what}{expiry}"
    else:
        line = (
            f"• `{request.id}` by <@{request.requester}> — {state} — serial "
            f"{code(request.serial)}, expires {request.not_after:%Y-%m-%d}"
        )
    if request.status is Status.PENDING:
        line += f" — approvals {len(request.approvals)} of {required}"
    return line


def _tenant_blocks(home: TenantHome, now: datetime, required: int) -> list[Block]:
    tenant = home.tenant
    if home.certificate is not None or home.items:
        _, blocks = tenant_status_message(tenant, home.certificate, home.items, now)
    else:
        blocks = [header(f"APNs certificate — {tenant.label}")]
    if home.note:
        blocks.append(context(f":information_source: {escape(home.note)}"))
    if home.failing is not None:
        since, error = home.failing.since, home.failing.error
        blocks.append(
            section(
                f":warning: The certificate check has been failing since {slack_date(since)}: "
                f"{escape(error)}"
            )
        )
    blocks.append(renewal_buttons(tenant))
    requests = "\n".join(request_line(r, required) for r in home.open_requests)
    blocks.append(section("*Open requests*\n" + (requests or "_None._")))
    events = "\n".join(history_lines(list(home.events)))
    blocks.append(section("*Latest events*\n" + (events or "_Nothing yet._")))
    blocks.append(DividerBlock())
    return blocks


def home_view(homes: Sequence[TenantHome], now: datetime, *, required: int, schedule: str) -> View:
    """The Home tab; ``schedule`` says when the daily check runs (e.g. ``09:00 Europe/Berlin``)."""
    blocks: list[Block] = []
    for home in homes:
        blocks.extend(_tenant_blocks(home, now, required))
    footer = context(
        f"Updated {slack_date(now)}. The certificate is checked daily at {schedule}; reminders "
        f"go to the tenant's channel. Times in lists are UTC."
    )
    if len(blocks) + 1 > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 2]
        blocks.append(context("More tenants than fit here: use `/apns status` in their channels."))
    blocks.append(footer)
    return View(type="home", blocks=blocks)


FLEET_HOME_AFTER = 3  # more tenants than this: the Home tab shows the fleet table instead
FLEET_HOME_ROWS = 60


def fleet_home_view(
    rows: Sequence[FleetRow],
    open_requests: Sequence[ChangeRequest],
    now: datetime,
    *,
    required: int,
    schedule: str,
) -> View:
    """Many tenants: one line each, most urgent first (``rows`` arrive sorted), then open requests."""
    _, table = fleet_message(list(rows))
    blocks: list[Block] = table[: FLEET_HOME_ROWS + 2]
    if open_requests:
        blocks.append(DividerBlock())
        blocks.append(section("*Open requests*"))
        blocks += [
            section(f"`{r.tenant}` — {request_line(r, required)}") for r in open_requests[:20]
        ]
    blocks.append(
        context(
            f"Updated {slack_date(now)} from the last check of each tenant (daily at {schedule}). "
            "`/apns renew <tenant>` starts a renewal; `/apns status <tenant>` reads Intune now."
        )
    )
    return View(type="home", blocks=blocks[:MAX_BLOCKS])


def nothing_shown_view(tenants: int) -> View:
    """The tab of someone who may see no tenant: who can, and where to ask; no tenant's details."""
    which = "the tenant" if tenants == 1 else "each tenant"
    return View(
        type="home",
        blocks=[
            section(
                f":lock: apns-bot shows {which} only to its approvers, to people acting from its "
                "channel and to the viewers listed in APNS_VIEWERS: ask in the tenant's channel, "
                "where `/apns status` works for everyone."
            )
        ],
    )
