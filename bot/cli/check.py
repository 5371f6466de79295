"""``apns-bot check``: one check of every watched item, for cron, systemd timers and monitoring.

Prints one line per item (the push certificate's first, then each ADE and Apps and Books token,
worst first, and each kind that could not be read) and exits with the worst state over all of
them, whether or not this run posted anything: 0 while more days are left than the largest
reminder threshold, 1 inside the reminder window, expired, with no certificate or with a token
problem, 2 when the check itself failed (settings, sign-in, permission, Graph unreachable) for
any kind.

With Slack settings (``SLACK_BOT_TOKEN``) it is the same check ``apns-bot run`` performs daily:
it posts the due reminder, changes made outside the bot and a failing check in the tenant's
channel, marking each in the database (``APNS_DATABASE_URL``, else ``APNS_DB_PATH``), so running it from cron next to (or
instead of) the bot never posts anything twice as long as both use the same database. Without Slack
settings, or with ``--no-post``, it only reads Graph and prints: it neither posts nor opens the
database.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from bot.adapters.graph.retry import RetryPolicy
from bot.cli.item_output import LABELS, item_text
from bot.config import Settings, TenantSettings, load_settings
from bot.core.items import tenant_items
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState, check_state, days_since_expiry, window_days
from bot.core.status import GRACE_DAYS, Urgency, urgency
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError
from bot.runtime.compose import build_deps
from bot.runtime.graph_clients import GraphClients
from bot.usecases.ports import Graphs
from bot.usecases.tenant_pool import per_tenant
from bot.usecases.token_watch import overall_state, read_tenant
from bot.usecases.watch import CheckResult

log = logging.getLogger("bot.check")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="check every watched item once; exit 0 ok, 1 renew soon or expired, 2 check failed",
        description=(
            "Check the push certificate and the ADE and Apps and Books tokens once (APNS_WATCH) "
            "and print one line per item. Exit status, the worst over all items: 0 while more "
            "days are left than the largest reminder threshold, 1 inside the reminder window, "
            "expired or with a token problem, 2 when the check failed for some kind. With "
            "SLACK_BOT_TOKEN set, due reminders and changes are posted (once, shared with "
            "`apns-bot run` through APNS_DATABASE_URL or "
            "APNS_DB_PATH)."
        ),
    )
    parser.add_argument(
        "--no-post",
        action="store_true",
        help="only read and print, even when Slack settings are present (monitoring)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    posting = bool((env.get("SLACK_BOT_TOKEN") or "").strip()) and not args.no_post
    settings = load_settings(env, need_slack=posting, need_graph=True)
    try:
        results = (
            check_and_post(settings, args.clock, args.sleep)
            if posting
            else read_only(settings, args.clock, args.sleep)
        )
    except Exception:  # an unexpected failure of the check is exit 2, never Python's 1
        log.exception("the check failed unexpectedly")
        print("FAILED: the check failed unexpectedly (see the log above)", flush=True)
        return int(CheckState.FAILED)
    for result in results:
        for line in summary_lines(settings.tenants[result.tenant], result):
            print(line, flush=True)
    seen = {r.tenant for r in results}
    lost = [name for name in settings.tenants if name not in seen]
    for name in lost:  # its check raised (logged above): that is a failed check, exit 2
        print(f"FAILED {name}: the check failed unexpectedly (see the log above)", flush=True)
    worst = max((int(r.state) for r in results), default=int(CheckState.FAILED))
    return int(CheckState.FAILED) if lost else worst


def read_only(
    settings: Settings, clock: Callable[[], datetime], sleep: Callable[[float], None]
) -> list[CheckResult]:
    """Every tenant read at once on a bounded pool (as the daily check), in the settings' order."""
    found: dict[str, CheckResult] = {}
    tenants = list(settings.tenants.values())
    graph = GraphClients(settings, retry=RetryPolicy(sleep=sleep))  # shared connection pools
    try:
        for tenant, future in per_tenant(
            tenants, partial(_read_one, graph, clock), name="apns-check"
        ):
            found[tenant.name] = future.result()
    finally:
        graph.close()
    return [found[t.name] for t in tenants]


def _read_one(graph: Graphs, clock: Callable[[], datetime], tenant: TenantSettings) -> CheckResult:
    now = clock()
    try:
        read = read_tenant(graph(tenant), tenant)
    except ApnsBotError as exc:
        return CheckResult(tenant.name, CheckState.FAILED, now, error=exc.user_message)
    if read.certificate is not None:
        push = check_state(read.certificate, now, tenant.remind_days)
    else:
        push = CheckState.FAILED if read.error is not None else CheckState.OK
    return CheckResult(
        tenant.name,
        overall_state(tenant, push, read.tokens, now),
        now,
        certificate=read.certificate,
        error=read.error.user_message if read.error is not None else None,
        tokens=read.tokens,
        watched=tenant.watch,
    )


def check_and_post(
    settings: Settings, clock: Callable[[], datetime], sleep: Callable[[float], None]
) -> list[CheckResult]:
    deps = build_deps(settings, clock=clock, sleep=sleep)
    try:
        return deps.watch.check_all()  # every tenant at once, in the settings' order
    finally:
        deps.close()  # waits for the App Home refresh the check queued


def summary_lines(tenant: TenantSettings, result: CheckResult) -> list[str]:
    """One line per item: the certificate's (when watched), then each token kind's items, worst
    first; what this run posted ends the first line."""
    lines = [summary(tenant, result)] if tenant.watches(CredentialKind.PUSH) else []
    items = tenant_items(
        None, None, result.tokens, result.checked_at, tenant.window_for, push=False
    )
    lines += [item_text(item, tenant.name) for item in items]
    if not lines:
        lines = [f"OK {tenant.name}: no watched item (nothing to check)"]
    if result.posted and not tenant.watches(CredentialKind.PUSH):
        lines[0] += f"; posted: {', '.join(result.posted)}"
    return lines


def summary(tenant: TenantSettings, result: CheckResult) -> str:
    """The certificate's line: state, tenant, days left, expiry, Apple ID, topic, what was posted."""
    certificate, now = result.certificate, result.checked_at
    if certificate is None:
        line = f"FAILED {tenant.name}: {result.error or 'the certificate could not be read'}"
    elif not certificate.exists or certificate.expires_at is None:
        line = f"MISSING {tenant.name}: no Apple push certificate is uploaded in Intune"
    else:
        window = window_days(tenant.remind_days)
        state = urgency(certificate, now, window)
        push_state = check_state(certificate, now, tenant.remind_days)
        label = LABELS[state] if push_state is CheckState.ATTENTION else "OK"
        line = (
            f"{label} {tenant.name}: {_remaining(certificate, now, state)}, expires "
            f"{certificate.expires_at:%Y-%m-%d %H:%M} UTC, Apple ID "
            f"{certificate.apple_id or 'unknown'}, topic {certificate.topic or 'unknown'}"
        )
        if state is Urgency.RENEW_SOON:
            line += f" (inside the {window}-day reminder window)"
    if result.posted:
        line += f"; posted: {', '.join(result.posted)}"
    return " ".join(line.split())  # one line, even when Graph's explanation has several


def _remaining(certificate: TenantCertificate, now: datetime, state: Urgency) -> str:
    if state not in (Urgency.EXPIRED, Urgency.LAPSED):
        days = certificate.days_left(now) or 0
        return f"{days} day{'s' * (days != 1)} left"
    ago = days_since_expiry(certificate, now)
    text = f"expired {ago} day{'s' * (ago != 1)} ago"
    if state is Urgency.EXPIRED:
        text += f", {GRACE_DAYS - ago} of Apple's {GRACE_DAYS} grace days left"
    return text
