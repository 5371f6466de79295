"""``apns-bot migrate-store``: copy a store into another, empty one (SQLite into PostgreSQL).

Moving to high availability: stop the bot, run ``apns-bot migrate-store --from
sqlite:////data/apns-bot.sqlite3 --to postgresql://apns@db:5432/apns``, set APNS_DATABASE_URL to the
target and start the replicas. Requests, approvals, history, reminder marks, per-tenant state,
sealed sign-ins, pending device flows and sign-in waits are copied in one transaction, sealed
values as they are (keep APNS_TOKEN_KEY). A target that holds anything is refused. Prints counts,
never values or passwords.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.adapters.store import SCHEMA_VERSION, SqliteStore, SqlStore
from bot.config.fields import database_url_problem
from bot.errors import UsageError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate-store",
        help="copy the SQLite store into an empty PostgreSQL database (high availability)",
        description=(__doc__ or "").split("\n\n")[1].replace("``", ""),
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="the store to copy: sqlite:////absolute/path (or sqlite:///relative/path)",
    )
    parser.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL",
        help="an empty store: postgresql://user@host:5432/database",
    )
    parser.set_defaults(func=run)


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative`` or ``sqlite:////absolute`` (as SQLAlchemy writes them)."""
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise UsageError(f"{url!r} is not a SQLite URL: write sqlite:////absolute/path.sqlite3.")
    return Path(rest[1:])


def open_url(url: str, *, must_exist: bool) -> tuple[SqlStore, str]:
    """The store a URL names, and how to name it in output (never with a password). The source
    (``must_exist``) is opened as it is, never migrated."""
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if must_exist and not path.is_file():
            raise UsageError(f"There is no SQLite store at {path}.")
        return SqliteStore(path, upgrade=not must_exist), str(path)
    if url.startswith(("postgresql://", "postgres://")):
        if problem := database_url_problem(url, "--from" if must_exist else "--to"):
            raise UsageError(problem)
        from bot.adapters.store.postgres import PostgresStore, display_url

        return PostgresStore(url, upgrade=not must_exist), display_url(url)
    raise UsageError("--from and --to take sqlite:///… or postgresql://… URLs.")


def check_source(source: SqlStore, name: str) -> None:
    """Refuse a source this apns-bot's copy does not describe: not an apns-bot store at all, or
    at another schema version (it is left as it is: migrate-store never changes the source)."""
    version = source.schema_version()
    if version == 0:
        raise UsageError(f"{name} is not an apns-bot store (it has no apns-bot schema).")
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"{name} is at schema version {version}; this apns-bot copies version "
            f"{SCHEMA_VERSION}. Run the apns-bot version that matches it (start it once with this "
            "version to upgrade the file, or use the version that wrote it), then copy again."
        )


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source, source_name = open_url(args.source, must_exist=True)
    with source:
        check_source(source, source_name)
        target, target_name = open_url(args.target, must_exist=False)
        with target:
            counts = source.copy_into(target)
    print(f"copied {source_name} into {target_name}:")
    for label, count in counts.items():
        print(f"  {label}: {count}")
    return 0
