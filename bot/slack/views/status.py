"""Messages for ``/apns help`` and ``/apns status``."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.config import TenantSettings
from bot.core.fleet import FleetRow
from bot.core.model import TenantCertificate
from bot.core.status import Urgency, urgency
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError
from bot.slack.ids import COMMAND
from bot.slack.views.blocks import (
    URGENCY_EMOJI,
    code,
    context,
    days_phrase,
    escape,
    fields,
    header,
    section,
    slack_date,
    tenant_label,
)

HELP_LINES = (
    (
        f"{COMMAND} status",
        "the push certificate, ADE and VPP tokens: expiry, days left, worst first",
    ),
    (f"{COMMAND} csr", "get Intune's certificate signing request (CSR) and the renewal steps"),
    (f"{COMMAND} renew", "upload the renewed certificate (or a token: asks which) for approval"),
    (
        f"{COMMAND} renew ade|vpp [NAME]",
        "upload a renewed ADE server token or Apps and Books token",
    ),
    (
        f"{COMMAND} ade-key",
        "Intune's public key for an ADE token, with the Apple Business Manager steps",
    ),
    (f"{COMMAND} history", "the latest renewals, approvals and notices"),
    (f"{COMMAND} signin", "approvers, delegated sign-in: sign in to Microsoft as yourself"),
    (f"{COMMAND} signout", "make apns-bot forget your Microsoft sign-in"),
    (f"{COMMAND} help", "this message"),
)

UNKNOWN_SHOWN = 40  # characters of an unknown word echoed back

URGENCY_TEXT: dict[Urgency, str] = {
    Urgency.OK: "Healthy",
    Urgency.RENEW_SOON: "Renew soon",
    Urgency.CRITICAL: "Renew now",
    Urgency.EXPIRED: "Expired — in Apple's 30-day grace period, renew today",
    Urgency.LAPSED: "Expired beyond the grace period — devices must re-enroll",
    Urgency.MISSING: "No certificate uploaded",
}


def help_message(unknown: str | None = None) -> tuple[str, list[Block]]:
    """The help text; ``unknown`` names a word the user typed that is not a command."""
    intro = (
        f"I don't know `{escape(unknown, UNKNOWN_SHOWN)}`. Here is what I can do:"
        if unknown
        else "I keep the Intune Apple push (APNs) certificate alive. Commands:"
    )
    lines = "\n".join(f"• `{cmd}` — {what}" for cmd, what in HELP_LINES)
    text = f"{intro}\n{lines}"
    return text, [section(text)]


def status_message(
    tenant: TenantSettings, certificate: TenantCertificate, now: datetime
) -> tuple[str, list[Block]]:
    """The certificate card (fallback text, blocks)."""
    state = urgency(certificate, now, tenant.window_for(CredentialKind.PUSH))
    emoji = URGENCY_EMOJI[state]
    title = f"APNs certificate — {tenant.label}"
    if not certificate.exists or certificate.expires_at is None:
        text = (
            f"{emoji} No Apple push certificate is uploaded in Intune ({tenant_label(tenant)}). "
            f"Get the CSR with `{COMMAND} csr`, create the certificate at Apple, then "
            f"`{COMMAND} renew`."
        )
        return text, [header(title), section(text)]
    days = certificate.days_left(now)
    assert days is not None  # exists implies an expiry
    expiry = slack_date(certificate.expires_at)
    summary = f"{emoji} *{URGENCY_TEXT[state]}* — {days_phrase(days)} (expires {expiry})"
    blocks: list[Block] = [
        header(title),
        section(summary),
        fields(
            [
                ("Apple ID", escape(certificate.apple_id) if certificate.apple_id else "_unknown_"),
                ("Expires", f"{certificate.expires_at:%Y-%m-%d %H:%M} UTC"),
                ("Topic", code(certificate.topic)),
                ("Serial", code(certificate.serial)),
            ]
        ),
    ]
    if certificate.upload_status or certificate.upload_failure_reason:
        blocks.append(
            context(
                f"Intune upload status: {escape(certificate.upload_status or '—')}"
                f" {escape(certificate.upload_failure_reason or '')}".strip()
            )
        )
    if state is not Urgency.OK:
        blocks.append(
            context(
                f"Renew with the same Apple ID and press *Renew* (never Create) at Apple: "
                f"`{COMMAND} csr` to start."
            )
        )
    fallback = (
        f"APNs certificate ({tenant_label(tenant)}): {URGENCY_TEXT[state]}, {days_phrase(days)}, "
        f"expires {certificate.expires_at:%Y-%m-%d}"
    )
    return fallback, blocks


def error_message(error: ApnsBotError, what: str) -> tuple[str, list[Block]]:
    """A failure shown to a person: what failed and the user-safe reason, never a traceback."""
    text = f":warning: {what} failed: {escape(error.user_message)}"
    return text, [section(text)]


FLEET_ROWS_SHOWN = 40  # a message holds at most 50 blocks


def fleet_line(row: FleetRow) -> str:
    if row.failed or row.state is None:
        worst = ""
        if row.kind is not None:  # a token was read all the same
            days = days_phrase(row.days_left) if row.days_left is not None else "no expiry known"
            worst = f"; worst token read: {row.kind.label} *{escape(row.name or '')}*, {days}"
        return (
            f":warning: *{escape(row.label)}* (`{row.tenant}`) — check failed: "
            f"{escape(row.error or '')}{worst}"
        )
    cert = row.certificate
    emoji = URGENCY_EMOJI[row.state]
    unread = (
        f" _({', '.join(k.value.upper() for k in row.unread)} not readable)_" if row.unread else ""
    )
    if row.kind is not None and row.kind is not CredentialKind.PUSH:  # a token is the worst
        expiry = f", expires {row.expires_at:%Y-%m-%d}" if row.expires_at else ""
        expiry += f", {escape(row.owner)}" if row.owner else ""
        days = days_phrase(row.days_left) if row.days_left is not None else URGENCY_TEXT[row.state]
        return (
            f"{emoji} *{escape(row.label)}* (`{row.tenant}`) — {row.kind.label} "
            f"*{escape(row.name or '')}*: {days}{expiry}{unread}"
        )
    if cert is None or not cert.exists or cert.expires_at is None:
        return f"{emoji} *{escape(row.label)}* (`{row.tenant}`) — {URGENCY_TEXT[row.state]}{unread}"
    return (
        f"{emoji} *{escape(row.label)}* (`{row.tenant}`) — push certificate: "
        f"{days_phrase(row.days_left or 0)}, expires {cert.expires_at:%Y-%m-%d}, "
        f"{escape(cert.apple_id or 'Apple ID unknown')}{unread}"
    )


def fleet_message(rows: list[FleetRow]) -> tuple[str, list[Block]]:
    """Every tenant, most urgent first (rows arrive sorted)."""
    failed = sum(1 for r in rows if r.failed)
    urgent = sum(1 for r in rows if r.state not in (None, Urgency.OK, Urgency.MISSING))
    plural = "s" if len(rows) != 1 else ""
    summary = f"{len(rows)} tenant{plural}: {urgent} need attention, {failed} could not be checked."
    blocks: list[Block] = [header("Apple credentials — all tenants"), section(summary)]
    blocks += [section(fleet_line(row)) for row in rows[:FLEET_ROWS_SHOWN]]
    if len(rows) > FLEET_ROWS_SHOWN:
        blocks.append(
            context(
                f"…and {len(rows) - FLEET_ROWS_SHOWN} more, all calmer than the ones above. "
                "`apns-bot status --all` lists every tenant."
            )
        )
    return summary, blocks
