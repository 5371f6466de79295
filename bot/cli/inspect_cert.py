"""``apns-bot inspect-cert FILE``: lint a push certificate offline before anyone uploads it.

Prints a readable summary (or ``--json``) of the certificate and every pre-flight problem. Exit
status: 0 when no problem is an error, 1 when one is, 2 for usage errors, unreadable files or
settings/Graph failures (one line on stderr, or with ``--json`` ``{"error": {"code", "message"}}`` on
stdout; never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.adapters.apple_ca import QUICK_DOWNLOAD_SECONDS, load_trust_anchors
from bot.cli.problems import problem_lines
from bot.config import Settings, load_settings
from bot.core.certinput import MAX_CERTIFICATE_FILE_BYTES
from bot.core.checks import Inspection, inspect_certificate
from bot.core.model import TenantCertificate
from bot.errors import CertificateError, UsageError

WIDTH = 100


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "inspect-cert",
        help="check an Apple push certificate file before it is uploaded",
        description=(
            "Parse a push certificate (.pem/.cer from Apple's Push Certificates Portal) and "
            "report every problem that would hurt the tenant. Exit 0: no errors; 1: errors; "
            "2: usage error or unreadable file."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the certificate file ('-' reads stdin)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    parser.add_argument("--apple-id", metavar="ID", help="the Apple ID the renewal would use")
    current = parser.add_argument_group(
        "the tenant's current certificate (omit for a first upload)"
    )
    current.add_argument("--current-apple-id", metavar="ID", help="Apple ID that created it")
    current.add_argument("--current-topic", metavar="T", help="its topic (com.apple.mgmt....)")
    current.add_argument(
        "--current-expiry", metavar="ISO8601", type=iso_datetime, help="its expiry date and time"
    )
    current.add_argument(
        "--against-graph",
        action="store_true",
        help="read the current topic, Apple ID and expiry from Microsoft Graph (needs AZURE_*)",
    )
    parser.add_argument(
        "--at",
        metavar="ISO8601",
        type=iso_datetime,
        help="evaluate at this time instead of now (e.g. to check an old certificate)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never download Apple's CA certificates (use APPLE_CA_DIR or the cache); without "
        "it, one quick download is tried",
    )
    parser.set_defaults(func=run)


def iso_datetime(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-05-03 or 2026-05-03T09:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    manual = (args.current_apple_id, args.current_topic, args.current_expiry)
    if args.against_graph and any(v is not None for v in manual):
        raise UsageError(
            "--against-graph reads the current certificate from Graph; drop the --current-* options"
        )
    data = _read(args.file)
    settings = load_settings(env, need_slack=False, need_graph=args.against_graph)
    now = args.at or args.clock()
    current = _graph_certificate(settings) if args.against_graph else _manual_certificate(args)
    # a quick try only: on a laptop without network the answer comes at once, chain not verified
    trust = load_trust_anchors(settings, download=not args.offline, timeout=QUICK_DOWNLOAD_SECONDS)
    inspection = inspect_certificate(
        data, now=now, apple_id=args.apple_id, current=current, trust=trust
    )
    hint = None if trust is not None else VERIFY_OFFLINE
    if args.json:
        document = {"file": args.file, **inspection.as_dict(evaluated_at=now)}
        if hint is not None:
            document["verify_offline"] = hint
        print(json.dumps(document, indent=2))
    else:
        print(render(inspection, name=args.file, now=now))
        if hint is not None:
            print("\n" + textwrap.fill(f"Chain not verified. {hint}", WIDTH))
    return 1 if inspection.blocking else 0


VERIFY_OFFLINE = (
    "To verify it offline, download AppleAAI2CA.cer and AppleIncRootCertificate.cer from "
    "https://www.apple.com/certificateauthority/ into a folder and set APPLE_CA_DIR to it; or run "
    "once with network access (the files are cached next to the database and --offline uses them)."
)


def _read(name: str) -> bytes:
    """At most one byte more than the core accepts, so a huge file is refused, not loaded."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(MAX_CERTIFICATE_FILE_BYTES + 1)
        with open(name, "rb") as handle:
            return handle.read(MAX_CERTIFICATE_FILE_BYTES + 1)
    except OSError as exc:
        raise CertificateError(
            "unreadable_file", f"cannot read {name}: {exc.strerror or exc}"
        ) from None


def _manual_certificate(args: argparse.Namespace) -> TenantCertificate | None:
    if args.current_apple_id is None and args.current_topic is None and args.current_expiry is None:
        return None
    return TenantCertificate(
        apple_id=args.current_apple_id,
        topic=args.current_topic,
        serial=None,
        expires_at=args.current_expiry,
    )


def _graph_certificate(settings: Settings) -> TenantCertificate:
    from bot.adapters.graph.client import (
        build_graph_client,  # only this option needs Graph (and msal)
    )

    client = build_graph_client(settings, settings.default_tenant)
    try:
        return client.get_certificate()
    finally:
        client.close()


def _when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def render(inspection: Inspection, *, name: str, now: datetime) -> str:
    """The human summary: facts first, then problems (errors first), then the verdict."""
    lines = [f"Certificate file: {name}"]
    c = inspection.certificate
    if c is not None:
        if c.not_after <= now:
            left = f"expired {int((now - c.not_after).total_seconds() // 86400)} days ago"
        else:
            left = f"{int((c.not_after - now).total_seconds() // 86400)} days left"
        if inspection.chain_verified is None:
            chain = "not verified (Apple's CA certificates unavailable)"
        elif inspection.chain_verified:
            chain = "verified: " + " -> ".join(inspection.chain)
        else:
            chain = "does NOT verify"
        facts = [
            ("Topic", c.topic or "(none)"),
            ("Common name", c.common_name or "(none)"),
            ("Serial", c.serial),
            ("Valid", f"{_when(c.not_before)} -> {_when(c.not_after)} ({left})"),
            ("Issuer", c.issuer_common_name or c.issuer),
            ("SHA-256", c.sha256),
            ("Key", f"{c.key_type} {c.key_size or ''}".strip()),
            ("Push marker", "yes" if c.apple_push_marker else "no"),
            ("Chain", chain),
        ]
        facts += [
            ("Also in file", f"{o.common_name or o.subject} ({o.sha256[:23]}...)") for o in c.others
        ]
        facts.append(("Checked at", _when(now)))
        lines += [f"  {label:<13}{value}" for label, value in facts]
    lines.append("")
    lines += problem_lines(
        inspection.problems, what="certificate", warned="approvers will see them"
    )
    return "\n".join(lines)
