"""The list of subcommand modules, in the order ``apns-bot --help`` shows them, and the examples
each one's ``--help`` ends with."""

from __future__ import annotations

from types import ModuleType

from bot.cli import (
    check,
    doctor,
    inspect_cert,
    inspect_token,
    keygen,
    migrate_store,
    rekey,
    run,
    status,
)

MODULES: list[ModuleType] = [
    run,
    status,
    check,
    doctor,
    inspect_cert,
    inspect_token,
    keygen,
    rekey,
    migrate_store,
]

EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": (
        "apns-bot run                     # Socket Mode with SLACK_APP_TOKEN, else HTTP",
        "apns-bot run --http --port 8080  # HTTP mode behind your TLS proxy",
    ),
    "status": (
        "apns-bot status",
        "apns-bot status contoso --json",
        "apns-bot status --all            # every tenant, most urgent first",
    ),
    "check": (
        "apns-bot check                   # from cron: exit 0 ok, 1 renew soon, 2 failed",
        "apns-bot check --no-post         # only read Graph and print",
    ),
    "doctor": (
        "apns-bot doctor",
        "apns-bot doctor --env-file /etc/apns-bot/env",
    ),
    "inspect-cert": (
        "apns-bot inspect-cert MDM_Contoso_Certificate.pem --apple-id mdm@contoso.example",
        "apns-bot inspect-cert new.pem --against-graph --json",
        "apns-bot inspect-cert new.pem --offline  # never download Apple's CA files",
    ),
    "inspect-token": (
        "apns-bot inspect-token Contoso_Token_2026-12-03_smime.p7m --public-key Intune_ADE.pem",
        "apns-bot inspect-token sToken_for_Contoso.vpptoken --against-graph --json",
        "apns-bot inspect-token token.p7m --against-graph --token 'Contoso ABM' --apple-id ID",
    ),
    "keygen": ('echo "APNS_TOKEN_KEY=$(apns-bot keygen)" >> .env',),
    "rekey": (
        "apns-bot rekey --dry-run",
        "apns-bot rekey",
    ),
    "migrate-store": (
        "apns-bot migrate-store --from sqlite:////data/apns-bot.sqlite3 \\",
        "    --to postgresql://apns@db.internal:5432/apns",
    ),
}
