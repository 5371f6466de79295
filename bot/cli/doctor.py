"""``apns-bot doctor``: check each piece a running bot depends on, and say how to fix what fails.

Settings, the database, Slack (``auth.test`` and the granted scopes), Apple's CA certificates,
the Entra sign-in and the Graph read. Each check prints PASS/WARN/FAIL; a failing check does not
stop the others when they can still run. Exit 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from bot.cli.doctor_delegated import (
    delegated_state,
    looking_provider,
    signin_result,
    token_key_state,
)
from bot.cli.doctor_result import Result
from bot.config import Settings, TenantSettings, load_settings
from bot.errors import ApnsBotError, ConfigError
from bot.slack.ids import BOT_SCOPES


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor", help="check settings, Slack, Entra sign-in and Graph; print fixes"
    )
    parser.set_defaults(func=run)


def check_settings(env: Mapping[str, str]) -> tuple[list[Result], Settings | None]:
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        results = [
            Result("settings", "FAIL", p, "edit .env (see .env.example)") for p in exc.problems
        ]
        try:  # Graph-side checks can still run when only Slack settings are wrong
            return results, load_settings(env, need_slack=False)
        except ConfigError:
            return results, None
    return [Result("settings", "PASS", f"{len(settings.tenants)} tenant(s) configured")], settings


def check_database(settings: Settings) -> Result:
    from bot.adapters.store import SqliteStore

    try:
        with SqliteStore(settings.db_path) as store:
            pragmas = store.pragmas()
    except (ApnsBotError, OSError) as exc:
        detail = exc.user_message if isinstance(exc, ApnsBotError) else str(exc)
        return Result("database", "FAIL", detail, f"make {settings.db_path.parent} writable")
    return Result("database", "PASS", f"{settings.db_path} (journal {pragmas.get('journal_mode')})")


def check_slack(settings: Settings) -> Result:
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.runtime.slack_clients import build_web_client

    client = build_web_client(settings)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        return Result(
            "slack",
            "FAIL",
            f"auth.test: {exc.response.get('error')}",
            "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into SLACK_BOT_TOKEN",
        )
    except (SlackClientError, OSError) as exc:
        return Result(
            "slack",
            "FAIL",
            f"cannot reach {client.base_url} ({type(exc).__name__})",
            "check the network, HTTPS_PROXY and SSL_CERT_FILE",
        )
    granted = {s.strip() for s in str(answer.headers.get("x-oauth-scopes", "")).split(",")}
    missing = sorted(set(BOT_SCOPES) - granted)
    who = f"{answer.get('user')} in {answer.get('team')}"
    if missing:
        return Result(
            "slack",
            "FAIL",
            f"{who}; missing scopes: {', '.join(missing)}",
            "add them under OAuth & Permissions (or recreate the app from manifest.yml) and reinstall",
        )
    return Result("slack", "PASS", f"signed in as {who}; all {len(BOT_SCOPES)} scopes granted")


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


def check_graph(settings: Settings, tenant: TenantSettings) -> list[Result]:
    from bot.adapters.entra.providers import build_token_provider
    from bot.adapters.graph.client import build_graph_client

    prefix = "" if len(settings.tenants) == 1 else f"{tenant.name}: "
    try:
        provider = looking_provider(settings, tenant) or build_token_provider(settings, tenant)
    except ApnsBotError as exc:
        return [signin_result(prefix, exc)]
    try:
        provider.token()
    except ApnsBotError as exc:
        provider.close()
        return [signin_result(prefix, exc)]
    scope = tenant.delegated_scope if tenant.delegated else tenant.app_scope
    results = [Result("entra sign-in", "PASS", f"{prefix}token for {scope}")]
    with build_graph_client(settings, tenant, token_provider=provider) as client:
        try:
            certificate = client.get_certificate()
        except ApnsBotError as exc:
            results.append(Result("graph read", "FAIL", prefix + exc.user_message))
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


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    results, settings = check_settings(env)
    show(results)
    if settings is not None:
        steps: list[Callable[[], list[Result]]] = [lambda: [check_database(settings)]]
        if settings.slack is not None:
            steps.append(lambda: [check_slack(settings)])
        steps.append(lambda: [check_apple_ca(settings)])
        steps += [partial(check_graph, settings, t) for t in settings.tenants.values()]
        steps += [partial(check_delegated, settings, t) for t in settings.tenants.values()]
        steps.append(lambda: check_token_key(settings))
        for step in steps:
            found = step()
            show(found)
            results += found
    failed = [r for r in results if r.status == "FAIL"]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed" if results else "")
    return 1 if failed else 0


def show(results: list[Result]) -> None:
    for r in results:
        print(f"{r.status:<4}  {r.name:<14} {r.detail}", flush=True)
        if r.fix:
            print(f"      {'':<14} fix: {r.fix}")
