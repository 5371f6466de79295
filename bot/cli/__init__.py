"""Composition root: the ``apns-bot`` command.

This is the only place that reads ``.env`` and ``os.environ``. Each subcommand lives in its own
module exposing ``register(subparsers)``, which adds a parser whose ``func`` is
``run(args, env) -> int``. Errors the bot raises on purpose (``ApnsBotError``) are printed as their
user-facing message, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from dotenv import dotenv_values

from bot import __version__
from bot.errors import ApnsBotError

Runner = Callable[[argparse.Namespace, Mapping[str, str]], int]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_environment(env_file: str | None) -> dict[str, str]:
    """The process environment, with ``.env`` (or ``--env-file``) filling in what is unset."""
    path = env_file or ".env"
    file_values = dotenv_values(path) if os.path.exists(path) else {}
    merged = {k: v for k, v in file_values.items() if v is not None}
    merged.update(os.environ)
    return merged


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import commands

    parser = argparse.ArgumentParser(
        prog="apns-bot",
        description="Keeps an Intune tenant's Apple MDM push certificate alive, from Slack.",
    )
    parser.add_argument("--version", action="version", version=f"apns-bot {__version__}")
    parser.add_argument(
        "--env-file", default=None, help="read settings from this file instead of ./.env"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in commands.MODULES:
        module.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run one ``apns-bot`` command. Subcommands read "now" from ``args.clock`` and wait between
    retries with ``args.sleep``: tests pass a fixed clock and a sleep that only records."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.clock, args.sleep = clock, sleep
    env = load_environment(args.env_file)
    logging.basicConfig(
        level=env.get("LOG_LEVEL", "INFO").upper()
        if env.get("LOG_LEVEL", "INFO").upper() in {"DEBUG", "INFO", "WARNING", "ERROR"}
        else "INFO",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request line at INFO; the bot logs what matters itself
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run: Runner = args.func
    try:
        return run(args, env)
    except ApnsBotError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
