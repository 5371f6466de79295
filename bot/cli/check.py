"""``apns-bot check``: one certificate check, for cron, systemd timers and monitoring.

Prints one line per tenant and exits with the certificate's state, whether or not this run posted
anything: 0 while more days are left than the largest reminder threshold, 1 inside the reminder
window, expired or with no certificate, 2 when the check itself failed (settings, sign-in,
permission, Graph unreachable).

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
from typing import Any

from bot.adapters.graph.client import build_graph_client
from bot.adapters.graph.retry import RetryPolicy
from bot.config import Settings, TenantSettings, load_settings
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState, check_state, days_since_expiry, window_days
from bot.core.status import GRACE_DAYS, Urgency, urgency
from bot.errors import ApnsBotError
from bot.runtime.compose import build_deps
from bot.usecases.watch import CheckResult

log = logging.getLogger("bot.check")

LABELS = {
    Urgency.OK: "OK",
    Urgency.RENEW_SOON: "RENEW",
    Urgency.CRITICAL: "CRITICAL",
    Urgency.EXPIRED: "EXPIRED",
    Urgency.LAPSED: "LAPSED",
    Urgency.MISSING: "MISSING",
}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="check the certificate once; exit 0 ok, 1 renew soon or expired, 2 check failed",
        description=(
            "Check the push certificate once and print one line per tenant. Exit status: 0 while "
            "more days are left than the largest reminder threshold, 1 inside the reminder window "
            "or expired, 2 when the check failed. With SLACK_BOT_TOKEN set, due reminders and "
            "changes are posted (once, shared with `apns-bot run` through APNS_DATABASE_URL or "
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
        print(summary(settings.tenants[result.tenant], result), flush=True)
    return max((int(r.state) for r in results), default=int(CheckState.FAILED))


def read_only(
    settings: Settings, clock: Callable[[], datetime], sleep: Callable[[float], None]
) -> list[CheckResult]:
    results = []
    for tenant in settings.tenants.values():
        now = clock()
        try:
            with build_graph_client(settings, tenant, retry=RetryPolicy(sleep=sleep)) as graph:
                certificate = graph.get_certificate()
        except ApnsBotError as exc:
            results.append(CheckResult(tenant.name, CheckState.FAILED, now, error=exc.user_message))
            continue
        state = check_state(certificate, now, tenant.remind_days)
        results.append(CheckResult(tenant.name, state, now, certificate=certificate))
    return results


def check_and_post(
    settings: Settings, clock: Callable[[], datetime], sleep: Callable[[float], None]
) -> list[CheckResult]:
    deps = build_deps(settings, clock=clock, sleep=sleep)
    try:
        return [deps.watch.check(tenant) for tenant in settings.tenants.values()]
    finally:
        deps.close()  # waits for the App Home refresh the check queued


def summary(tenant: TenantSettings, result: CheckResult) -> str:
    """One line: state, tenant, days left, expiry, Apple ID, topic, and what was posted."""
    certificate, now = result.certificate, result.checked_at
    if result.state is CheckState.FAILED or certificate is None:
        line = f"FAILED {tenant.name}: {result.error or 'the certificate could not be read'}"
    elif not certificate.exists or certificate.expires_at is None:
        line = f"MISSING {tenant.name}: no Apple push certificate is uploaded in Intune"
    else:
        window = window_days(tenant.remind_days)
        state = urgency(certificate, now, window)
        label = LABELS[state] if result.state is CheckState.ATTENTION else "OK"
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
