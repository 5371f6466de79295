"""``apns-bot inspect-token FILE``: check an ADE server token or Apps and Books token before upload.

The kind is detected from the file (``--kind`` forces it). Offline by default: a VPP token is
compared with ``--current-org``/``--current-expiry`` when given, an ADE token with Intune's public
key when ``--public-key`` names the ``.pem`` from ``/apns ade-key``. ``--against-graph`` reads those
from the tenant instead (``--tenant``, ``--token`` when it has several tokens of the kind): the
token to renew, the tenant's other tokens (VPP duplicates) and Intune's current public key (ADE).

Exit status: 0 when no problem is an error, 1 when one is, 2 for usage errors, unreadable files or
settings/Graph failures (one line on stderr, or with ``--json`` ``{"error": {"code", "message"}}`` on
stdout; never a traceback). Nothing is stored and the token's value is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.cli.inspect_cert import iso_datetime
from bot.cli.problems import problem_lines
from bot.config import Settings, load_settings
from bot.core.ade_token import read_intune_key
from bot.core.token_checks import (
    MAX_RECIPIENTS_SHOWN,
    TokenInspection,
    detect_kind,
    inspect_token,
)
from bot.core.token_choice import choose_token
from bot.core.token_file import MAX_TOKEN_FILE_BYTES
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError, TokenFileError, UsageError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "inspect-token",
        help="check an ADE server token (.p7m) or Apps and Books token (.vpptoken) before upload",
        description=(
            "Read an ADE server token or an Apps and Books (VPP) token file and report every "
            "problem that would hurt the tenant. Exit 0: no errors; 1: errors; 2: usage error, "
            "unreadable file or Graph failure."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the token file ('-' reads stdin)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    parser.add_argument("--kind", choices=["ade", "vpp"], help="the file's kind (default: detect)")
    parser.add_argument("--apple-id", metavar="ID", help="ADE: the Apple ID the upload would use")
    offline = parser.add_argument_group("the token it would renew, offline (omit to skip)")
    offline.add_argument(
        "--public-key", metavar="PEM", help="ADE: Intune's public key file (from /apns ade-key)"
    )
    offline.add_argument("--current-apple-id", metavar="ID", help="ADE: the token's Apple ID")
    offline.add_argument("--current-org", metavar="ORG", help="VPP: the token's organisation")
    offline.add_argument(
        "--current-expiry", metavar="ISO8601", type=iso_datetime, help="VPP: its expiry"
    )
    graph = parser.add_argument_group("the token it would renew, from Microsoft Graph")
    graph.add_argument(
        "--against-graph",
        action="store_true",
        help="read the token, the tenant's other tokens and Intune's key from Graph (AZURE_*)",
    )
    graph.add_argument("--tenant", metavar="NAME", help="the tenant's short name (tenants file)")
    graph.add_argument(
        "--token", metavar="ID|NAME", help="which token of the kind (needed when there are several)"
    )
    parser.add_argument(
        "--at", metavar="ISO8601", type=iso_datetime, help="evaluate at this time instead of now"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    manual = (args.public_key, args.current_apple_id, args.current_org, args.current_expiry)
    if args.against_graph and any(v is not None for v in manual):
        raise UsageError(
            "--against-graph reads the current token and Intune's key from Graph; drop the "
            "--public-key and --current-* options"
        )
    if not args.against_graph and (args.tenant or args.token):
        raise UsageError("--tenant and --token choose what --against-graph reads: add it")
    data = _read(args.file, MAX_TOKEN_FILE_BYTES + 1)
    now = args.at or args.clock()
    kind = CredentialKind(args.kind) if args.kind else _detected(data)
    _check_options_fit(args, kind)
    current: AppleToken | None = None
    others: Sequence[AppleToken] = ()
    public_key: str | None = None
    if args.against_graph and kind is not None:
        settings = load_settings(env, need_slack=False, need_graph=True)
        current, others, public_key = _from_graph(settings, args, kind)
    elif kind is not None:
        current = _manual_token(args, kind)
        if args.public_key is not None:
            public_key = _read_public_key(args.public_key)
    inspection = inspect_token(
        data,
        now=now,
        kind=kind,
        current=current,
        others=others,
        public_key=public_key,
        apple_id=args.apple_id,
    )
    if args.json:
        print(json.dumps({"file": args.file, **inspection.as_dict(evaluated_at=now)}, indent=2))
    else:
        print(render(inspection, name=args.file, now=now))
    return 1 if inspection.blocking else 0


ADE_ONLY = {
    "--apple-id": "apple_id",
    "--public-key": "public_key",
    "--current-apple-id": "current_apple_id",
}
VPP_ONLY = {"--current-org": "current_org", "--current-expiry": "current_expiry"}


def _check_options_fit(args: argparse.Namespace, kind: CredentialKind | None) -> None:
    """An option of the other kind would be silently ignored: refuse it (exit 2) instead."""
    if kind is None:
        return  # not recognised: the problem says so, whatever the options
    other = VPP_ONLY if kind == CredentialKind.ADE else ADE_ONLY
    meant = CredentialKind.VPP if kind == CredentialKind.ADE else CredentialKind.ADE
    for option, attribute in other.items():
        if getattr(args, attribute, None) is not None:
            raise UsageError(
                f"{option} is for {meant.label}s, but {args.file} is an {kind.label}; drop it"
            )


def _detected(data: bytes) -> CredentialKind | None:
    try:
        return detect_kind(data)
    except TokenFileError:
        return None  # inspect_token reports why, as a problem


def _read(name: str, limit: int) -> bytes:
    """At most ``limit`` bytes: a huge file is refused by the core, never loaded whole."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(limit)
        with open(name, "rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise TokenFileError(
            "unreadable_file", f"cannot read {name}: {exc.strerror or exc}"
        ) from None


def _read_public_key(name: str) -> str:
    """``--public-key``: refused (exit 2) when too large or not a certificate, never truncated."""
    data = _read(name, MAX_TOKEN_FILE_BYTES + 1)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise TokenFileError(
            "public_key_unreadable",
            f"{name} is larger than {MAX_TOKEN_FILE_BYTES // 1024} KiB, while Intune's public key "
            "is a certificate of about 1 KiB: give the .pem from /apns ade-key.",
        )
    text = data.decode("ascii", "replace")
    read_intune_key(text)  # raises TokenFileError("public_key_unreadable") with the reason
    return text


def _manual_token(args: argparse.Namespace, kind: CredentialKind) -> AppleToken | None:
    if kind == CredentialKind.VPP and (args.current_org or args.current_expiry):
        return AppleToken("current", kind, None, None, args.current_org, args.current_expiry)
    if kind == CredentialKind.ADE and args.current_apple_id:
        return AppleToken("current", kind, None, args.current_apple_id, None, None)
    return None


def _from_graph(
    settings: Settings, args: argparse.Namespace, kind: CredentialKind
) -> tuple[AppleToken, list[AppleToken], str | None]:
    from bot.adapters.graph.client import build_graph_client  # only this option needs Graph
    from bot.adapters.graph.retry import RetryPolicy

    if args.tenant is not None and args.tenant not in settings.tenants:
        known = ", ".join(settings.tenants)
        raise ApnsBotError(f"No tenant named {args.tenant!r}; configured: {known}.")
    tenant = settings.tenant(args.tenant)
    with build_graph_client(settings, tenant, retry=RetryPolicy(sleep=args.sleep)) as graph:
        tokens = graph.list_ade_tokens() if kind == CredentialKind.ADE else graph.list_vpp_tokens()
        target = pick_token(tokens, args.token, kind, tenant.label)
        key = graph.ade_public_key(target.id) if kind == CredentialKind.ADE else None
    return target, tokens, key


def pick_token(
    tokens: Sequence[AppleToken], wanted: str | None, kind: CredentialKind, where: str
) -> AppleToken:
    """The token named (id or name, any case), or the only one; ``ApnsBotError`` otherwise."""
    choice = choose_token(tokens, wanted)
    if choice.token is not None:
        return choice.token
    if choice.why == "none":
        raise ApnsBotError(f"{where} has no {kind.label}: there is nothing to renew.")
    names = ", ".join(f"{t.name or '(no name)'} ({t.id})" for t in choice.candidates)
    asked = f"No {kind.label} named {wanted!r}" if wanted else f"{where} has several of them"
    raise ApnsBotError(f"{asked}; choose one with --token: {names}.")


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else "(unknown)"


def render(inspection: TokenInspection, *, name: str, now: datetime) -> str:
    """The human summary: facts first, then problems (errors first), then the verdict."""
    label = inspection.kind.label if inspection.kind else "token (kind not recognised)"
    lines = [f"Token file: {name}", f"  {'Kind':<15}{label}"]
    facts: list[tuple[str, str]] = []
    if inspection.vpp is not None:
        v = inspection.vpp
        left = int((v.expires_at - now).total_seconds() // 86400)
        facts += [
            ("Organisation", v.organization),
            ("Expires", f"{_when(v.expires_at)} ({left} days)"),
            ("Token SHA-256", v.sha256[:16] + "…"),
        ]
    if inspection.ade is not None:
        a = inspection.ade
        facts.append(("Layout", "S/MIME (as Apple delivers it)" if a.smime else "bare CMS"))
        facts += [
            ("Encrypted to", f"{r.issuer or r.key_identifier or r.kind}, serial {r.serial or '-'}")
            for r in a.recipients[:MAX_RECIPIENTS_SHOWN]
        ]
        if len(a.recipients) > MAX_RECIPIENTS_SHOWN:
            facts.append(("", f"+{len(a.recipients) - MAX_RECIPIENTS_SHOWN} more"))
        facts.append(("Expiry", "known to Intune only once it has opened the token"))
    if inspection.public_key is not None:
        k = inspection.public_key
        facts.append(("Intune's key", f"{k.issuer}, serial {k.serial}"))
    if inspection.current is not None:
        c = inspection.current
        what = c.name or c.organization or c.apple_id or c.id
        facts.append(("Renews", f"{what} (expires {_when(c.expires_at)})"))
    facts.append(("Checked at", _when(now)))
    lines += [f"  {k:<15}{v}" for k, v in facts]
    lines.append("")
    lines += problem_lines(inspection.problems, what="token", warned="check them before uploading")
    return "\n".join(lines)
