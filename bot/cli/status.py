"""``apns-bot status [--json]``: the tenant's watched Apple credentials as Graph reports them.

The push certificate as before, and every watched ADE and Apps and Books (VPP) token. With
``--json`` today's keys stay as they were (all null, ``state`` ``"not_watched"``, when
``APNS_WATCH`` leaves out ``push``) and ``watch``, ``ade_tokens``, ``ade_tokens_error``,
``vpp_tokens`` and ``vpp_tokens_error`` follow (``bot.cli.item_output``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.adapters.graph.client import build_graph_client
from bot.adapters.graph.retry import RetryPolicy
from bot.cli.error_output import error_document
from bot.cli.fleet_output import fleet_document, fleet_table, progress_for
from bot.cli.item_output import items_text, tokens_keys
from bot.config import Settings, TenantSettings, load_settings
from bot.core.items import tenant_items
from bot.core.model import TenantCertificate
from bot.core.status import urgency
from bot.core.tokens import CredentialKind, TokenRead
from bot.errors import ApnsBotError
from bot.runtime.graph_clients import GraphClients
from bot.usecases.fleet import read_fleet
from bot.usecases.token_watch import read_tenant

# The --json document always has exactly these keys (null when unknown), in this order.
JSON_KEYS = (
    "tenant",
    "tenant_id",
    "certificate_present",
    "apple_id",
    "topic",
    "serial",
    "expires_at",
    "days_left",
    "state",
    "upload_status",
    "upload_failure_reason",
    "last_modified",
    "checked_at",
    "watch",
    "ade_tokens",
    "ade_tokens_error",
    "vpp_tokens",
    "vpp_tokens_error",
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="show the push certificate and the ADE and VPP tokens: expiry, days left",
        description=(
            "Read every watched Apple credential (APNS_WATCH: the push certificate, ADE and "
            "Apps and Books tokens) from Microsoft Graph and print them, worst first. Exit 0 "
            "when the certificate was read; 2 when it could not be (the tokens are still "
            'shown; with --json: "error": {"code", "message"} beside them). A token kind that '
            "could not be read is shown as such (--json: null with *_tokens_error)."
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (ISO 8601 dates, stable keys)"
    )
    parser.add_argument("tenant", nargs="?", help="the tenant's short name (tenants file)")
    parser.add_argument(
        "--all", action="store_true", help="every tenant, sorted by urgency (exit 2 if any failed)"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show the progress bar even when not on a terminal"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = load_settings(env, need_slack=False, need_graph=True)
    if args.all:
        return run_fleet(args, settings)
    if args.tenant is not None and args.tenant not in settings.tenants:
        known = ", ".join(settings.tenants)
        raise ApnsBotError(f"No tenant named {args.tenant!r}; configured: {known}.")
    tenant = settings.tenant(args.tenant)
    with build_graph_client(settings, tenant, retry=RetryPolicy(sleep=args.sleep)) as graph:
        read = read_tenant(graph, tenant)
    now = args.clock()
    if read.error is not None:  # the push certificate is watched and could not be read: the
        # tokens were read all the same, so show them beside the error (and still exit 2)
        if args.json:
            document = status_document(tenant, None, now, read.tokens) | {"state": "unreadable"}
            print(json.dumps(document | error_document(read.error), indent=2))
        else:
            why = read.error.user_message
            print(status_text(tenant, None, now, read.tokens, certificate_error=why))
            print(f"error: {why}", file=sys.stderr)
        return 2
    if args.json:
        document = status_document(tenant, read.certificate, now, read.tokens)
        print(json.dumps(document, indent=2))
    else:
        print(status_text(tenant, read.certificate, now, read.tokens))
    return 0


def run_fleet(args: argparse.Namespace, settings: Settings) -> int:
    graph = GraphClients(settings, retry=RetryPolicy(sleep=args.sleep))
    try:
        rows = read_fleet(settings, graph, args.clock, on_row=progress_for(settings, args.progress))
    finally:
        graph.close()
    now = args.clock()
    print(json.dumps(fleet_document(rows, now), indent=2) if args.json else fleet_table(rows))
    return 2 if any(row.failed for row in rows) else 0


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def status_document(
    tenant: TenantSettings,
    certificate: TenantCertificate | None,
    now: datetime,
    tokens: tuple[TokenRead, ...] = (),
) -> dict[str, Any]:
    """The ``--json`` document; ``certificate`` None: the push certificate is not watched."""
    extra = {"watch": [k.value for k in tenant.watch], **tokens_keys(tokens, now)}
    if certificate is None:
        unwatched = dict.fromkeys(JSON_KEYS) | {
            "tenant": tenant.name,
            "tenant_id": tenant.tenant_id,
        }
        document = unwatched | {"state": "not_watched", "checked_at": _iso(now)} | extra
        return {key: document[key] for key in JSON_KEYS}
    present = certificate.exists
    document = {
        "tenant": tenant.name,
        "tenant_id": tenant.tenant_id,
        "certificate_present": present,
        "apple_id": certificate.apple_id,
        "topic": certificate.topic,
        "serial": certificate.serial,
        "expires_at": _iso(certificate.expires_at),
        "days_left": certificate.days_left(now) if present else None,
        "state": str(urgency(certificate, now, tenant.window_for(CredentialKind.PUSH))),
        "upload_status": certificate.upload_status,
        "upload_failure_reason": certificate.upload_failure_reason,
        "last_modified": _iso(certificate.last_modified),
        "checked_at": _iso(now),
        **extra,
    }
    return {key: document[key] for key in JSON_KEYS}


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _days(certificate: TenantCertificate, now: datetime) -> str:
    assert certificate.expires_at is not None  # only called when it exists
    seconds = (certificate.expires_at - now).total_seconds()
    if seconds <= 0:
        ago = int(-seconds // 86400)
        return "expired today" if ago == 0 else f"expired {ago} day{'s' * (ago != 1)} ago"
    left = int(seconds // 86400)
    return "less than a day left" if left == 0 else f"{left} day{'s' * (left != 1)} left"


def status_text(
    tenant: TenantSettings,
    certificate: TenantCertificate | None,
    now: datetime,
    tokens: tuple[TokenRead, ...] = (),
    *,
    certificate_error: str | None = None,
) -> str:
    """Every watched item worst first, then the push certificate's details (when watched and
    read; ``certificate_error``: why it could not be read)."""
    push = certificate is not None or certificate_error is not None
    items = tenant_items(certificate, certificate_error, tokens, now, tenant.window_for, push=push)
    parts = [f"{tenant.label} (tenant {tenant.tenant_id})", items_text(items)]
    if certificate is not None:
        parts.append(certificate_text(tenant, certificate, now))
    if not tenant.watches(CredentialKind.PUSH):
        parts.append("The push certificate is not watched (APNS_WATCH).")
    return "\n".join(parts)


def certificate_text(tenant: TenantSettings, certificate: TenantCertificate, now: datetime) -> str:
    title = f"Apple push certificate — {tenant.label} (tenant {tenant.tenant_id})"
    if not certificate.exists or certificate.expires_at is None:
        return (
            f"{title}\nNo Apple push certificate is uploaded in Intune yet"
            + (f" (Apple ID on record: {certificate.apple_id})" if certificate.apple_id else "")
            + "."
        )
    state = urgency(certificate, now, tenant.window_for(CredentialKind.PUSH))
    rows = [
        ("Apple ID", certificate.apple_id or "unknown"),
        ("Topic", certificate.topic or "unknown"),
        ("Serial", certificate.serial or "unknown"),
        ("Expires", _when(certificate.expires_at)),
        ("Remaining", f"{_days(certificate, now)} ({state.value.replace('_', ' ')})"),
    ]
    if certificate.last_modified is not None:
        rows.append(("Last modified", _when(certificate.last_modified)))
    if certificate.upload_status or certificate.upload_failure_reason:
        rows.append(
            (
                "Upload status",
                " — ".join(
                    p for p in (certificate.upload_status, certificate.upload_failure_reason) if p
                ),
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join([title, *(f"  {label:<{width}}  {value}" for label, value in rows)])
