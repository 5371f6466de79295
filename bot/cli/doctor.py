"""``apns-bot doctor``: check each piece a running bot depends on, and say how to fix what fails.

Settings, the database, Slack (``auth.test``, then the granted scopes), Apple's CA certificates,
the Entra sign-in and the Graph read. Each check prints PASS, WARN, FAIL (always with a ``fix:``)
or SKIP (a check that could not run because an earlier one failed). The checks that talk to the
network run at the same time, each waiting at most ``APNS_NETWORK_TIMEOUT`` for a silent host, and
are printed in a fixed order; on a terminal a status line names the host still being waited for.
Exit 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bot.cli.doctor_delegated import (
    delegated_state,
    looking_provider,
    signin_result,
    token_key_state,
)
from bot.cli.doctor_report import (
    CHECKS_AFTER_SETTINGS,
    NETWORK_FIX,
    Result,
    Step,
    Waiting,
    show,
    summary,
)
from bot.config import Settings, TenantSettings, load_settings
from bot.errors import ApnsBotError, ConfigError
from bot.slack.ids import BOT_SCOPES

MAX_AT_ONCE = 16  # checks running at the same time (a tenants file may list hundreds)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help="check settings, Slack, Entra sign-in and Graph; print a fix for each failure",
        description=(
            "Check every piece the bot depends on: settings, the database, the Slack token and "
            "scopes, Apple's CA certificates, the Entra sign-in and the Graph read. Each failure "
            "comes with a fix. Exit 0: nothing failed; 1: something failed."
        ),
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show what is being waited for even when not on a terminal",
    )
    parser.set_defaults(func=run)


def check_settings(env: Mapping[str, str], where: str) -> tuple[list[Result], Settings | None]:
    """``where``: the file the settings came from, named in every fix."""
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        fix = (
            f"edit {where}"
            if os.path.isfile(where)
            else f"copy .env.example to {where} and fill it in (or set these in the environment)"
        )
        results = [Result("settings", "FAIL", p, fix) for p in exc.problems]
        try:  # Graph-side checks can still run when only Slack settings are wrong
            return results, load_settings(env, need_slack=False)
        except ConfigError:
            return results, None
    return [Result("settings", "PASS", f"{len(settings.tenants)} tenant(s) configured")], settings


def check_database(settings: Settings) -> Result:
    """Reachable, at this version's schema, and writable (a row written, rolled back). Never
    migrates: an older schema is a warning (the bot upgrades it when it starts), a newer one fails."""
    from bot.adapters.store import SCHEMA_VERSION, SqliteStore, open_store, store_label

    if settings.database_url is not None:
        fix = "check APNS_DATABASE_URL: server, port, user, database, and that the user may create tables"
    else:
        fix = f"make {settings.db_path.parent} writable"
    try:
        with open_store(settings, upgrade=False) as store:
            version = store.schema_version()
            if version > SCHEMA_VERSION:
                detail = (
                    f"{store_label(settings)} was written by a newer apns-bot (schema version "
                    f"{version}; this one understands up to {SCHEMA_VERSION})"
                )
                return Result("database", "FAIL", detail, "upgrade apns-bot")
            store.probe_write(datetime.now(UTC))
            engine = (
                f"journal {store.pragmas().get('journal_mode')}"
                if isinstance(store, SqliteStore)
                else "PostgreSQL"
            )
    except (ApnsBotError, OSError) as exc:
        detail = exc.user_message if isinstance(exc, ApnsBotError) else str(exc)
        return Result("database", "FAIL", detail, fix)
    detail = f"{store_label(settings)} ({engine}, schema version {version}, writable)"
    if version < SCHEMA_VERSION:
        fix = (
            f"start the bot once (apns-bot run): it brings the schema to version {SCHEMA_VERSION} "
            "(with replicas, the first to start does it)"
        )
        return Result("database", "WARN", detail, fix)
    return Result("database", "PASS", detail)


def check_slack(settings: Settings) -> list[Result]:
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.runtime.slack_clients import build_web_client, unreachable

    client = build_web_client(settings)
    skipped = Result("slack scopes", "SKIP", "skipped: auth.test did not succeed")
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        return [
            Result(
                "slack",
                "FAIL",
                f"auth.test: {exc.response.get('error')}",
                "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into "
                "SLACK_BOT_TOKEN",
            ),
            skipped,
        ]
    except (SlackClientError, OSError) as exc:
        why = unreachable(exc, client.base_url, settings.network_timeout)
        return [Result("slack", "FAIL", f"Slack Web API {why}", NETWORK_FIX), skipped]
    who = f"{answer.get('user')} in {answer.get('team')}"
    granted = {s.strip() for s in str(answer.headers.get("x-oauth-scopes", "")).split(",")}
    missing = sorted(set(BOT_SCOPES) - granted)
    signed_in = Result("slack", "PASS", f"signed in as {who}")
    if missing:
        return [
            signed_in,
            Result(
                "slack scopes",
                "FAIL",
                f"missing scopes: {', '.join(missing)}",
                "add them under OAuth & Permissions (or recreate the app from manifest.yml) and "
                "reinstall",
            ),
        ]
    return [signed_in, Result("slack scopes", "PASS", f"all {len(BOT_SCOPES)} scopes granted")]


def check_apple_ca(settings: Settings) -> Result:
    from bot.adapters.apple_ca import AppleTrustStore

    if AppleTrustStore(settings).get() is None:
        return Result(
            "apple-ca",
            "WARN",
            "Apple's CA certificates are unavailable: chains are reported as not verified",
            "set APPLE_CA_DIR to a folder with AppleAAI2CA.cer and AppleIncRootCertificate.cer",
        )
    where = settings.apple_ca_dir or "pinned download cache"
    return Result("apple-ca", "PASS", f"Apple Root CA and AAI2 CA loaded ({where})")


def graph_fix(exc: ApnsBotError) -> str:
    text = exc.user_message
    if "timed out" in text or "failed:" in text:
        return NETWORK_FIX
    return "follow the message above; `apns-bot status` repeats the read"


def check_graph(settings: Settings, tenant: TenantSettings) -> list[Result]:
    from bot.adapters.entra.providers import build_token_provider
    from bot.adapters.graph.client import build_graph_client

    prefix = "" if len(settings.tenants) == 1 else f"{tenant.name}: "
    skipped = Result("graph read", "SKIP", f"{prefix}skipped: no token to read Graph with")
    try:
        provider = looking_provider(settings, tenant) or build_token_provider(settings, tenant)
    except ApnsBotError as exc:
        return [signin_result(prefix, exc), skipped]
    try:
        provider.token()
    except ApnsBotError as exc:
        provider.close()
        return [signin_result(prefix, exc), skipped]
    scope = tenant.delegated_scope if tenant.delegated else tenant.app_scope
    results = [Result("entra sign-in", "PASS", f"{prefix}token for {scope}")]
    with build_graph_client(settings, tenant, token_provider=provider) as client:
        try:
            certificate = client.get_certificate()
        except ApnsBotError as exc:
            results.append(Result("graph read", "FAIL", prefix + exc.user_message, graph_fix(exc)))
        else:
            what = (
                f"{certificate.topic}, expires {certificate.expires_at:%Y-%m-%d}"
                if certificate.exists and certificate.expires_at
                else "no certificate uploaded yet"
            )
            results.append(Result("graph read", "PASS", prefix + what))
    provider.close()
    return results


def check_delegated(settings: Settings, tenant: TenantSettings) -> list[Result]:

    return delegated_state(settings, tenant) if tenant.delegated else []


def check_token_key(settings: Settings) -> list[Result]:

    return token_key_state(settings)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def steps_for(settings: Settings) -> list[Step]:
    """Every check after the settings, in the order they are printed."""
    steps = [Step("the database", lambda: [check_database(settings)])]
    if settings.slack is not None:
        steps.append(Step(_host(settings.slack.api_url), partial(check_slack, settings)))
    else:
        skip = [
            Result("slack", "SKIP", "skipped: the Slack settings are incomplete"),
            Result("slack scopes", "SKIP", "skipped: the Slack settings are incomplete"),
        ]
        steps.append(Step("", lambda: skip))
    apple = str(settings.apple_ca_dir) if settings.apple_ca_dir else "www.apple.com"
    steps.append(Step(apple, lambda: [check_apple_ca(settings)]))
    for tenant in settings.tenants.values():
        hosts = f"{tenant.authority_host} and {_host(tenant.graph_url)}"
        steps.append(Step(hosts, partial(check_graph, settings, tenant)))
    for tenant in settings.tenants.values():
        steps.append(Step("the database", partial(check_delegated, settings, tenant)))
    steps.append(Step("the database", lambda: check_token_key(settings)))
    return steps


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    results, settings = check_settings(env, getattr(args, "env_file", None) or ".env")
    out = sys.stdout
    waiting = Waiting(out, enabled=args.progress or out.isatty())
    show(results, waiting)
    if settings is None:
        skipped = [
            Result(name, "SKIP", "skipped: the settings above must be fixed first")
            for name in CHECKS_AFTER_SETTINGS
        ]
        show(skipped, waiting)
        results += skipped
    else:
        steps = steps_for(settings)
        # the checks wait on different hosts: at the same time, a dead network costs one timeout
        with ThreadPoolExecutor(min(len(steps), MAX_AT_ONCE), thread_name_prefix="doctor") as pool:
            futures = [pool.submit(step.run) for step in steps]
            for step, future in zip(steps, futures, strict=True):
                found = waiting.until_done(future, step.waiting_for)
                show(found, waiting)
                results += found
    print("\n" + summary(results))
    return 1 if any(r.status == "FAIL" for r in results) else 0
