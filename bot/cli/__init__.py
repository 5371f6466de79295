"""Composition root: the ``apns-bot`` command.

This is the only place that reads ``.env`` and ``os.environ``. Each subcommand lives in its own
module exposing ``register(subparsers)``, which adds a parser whose ``func`` is
``run(args, env) -> int``. Errors the bot raises on purpose (``ApnsBotError``) are printed as their
user-facing message, never as a traceback; with ``--json`` as ``{"error": {"code", "message"}}`` on
stdout, with the same exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dotenv import dotenv_values

from bot import __version__
from bot.cli.error_output import error_document
from bot.cli.logs import configure_logging
from bot.errors import ApnsBotError, ConfigError, UsageError

Runner = Callable[[argparse.Namespace, Mapping[str, str]], int]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


DEFAULT_ENV_FILE = ".env"
# Proxy settings the HTTP libraries take only from the process environment: set in .env, they are
# put there (unless the shell already set them), so a proxy in .env is used, not ignored.
PROXY_KEYS = tuple(
    name
    for key in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
    for name in (key, key.lower())
)
ENV_FILE_HELP = "read settings from this file instead of ./.env (before or after COMMAND)"


class EnvFileMissingError(ApnsBotError):
    """``--env-file`` names a file that does not exist."""


def load_environment(env_file: str | None) -> dict[str, str]:
    """The process environment, with ``.env`` (or ``--env-file``) filling in what is unset.

    A missing ``--env-file`` is an error naming it; a missing ``./.env`` is not (the environment
    may hold everything), but settings errors then say it was not found.
    """
    path = env_file or DEFAULT_ENV_FILE
    if env_file is not None and not os.path.isfile(env_file):
        raise EnvFileMissingError(
            f"--env-file {env_file}: no such file (in {os.getcwd()}). Copy .env.example there, "
            "or give the path of your settings file."
        )
    file_values = dotenv_values(path) if os.path.isfile(path) else {}
    merged = {k: v for k, v in file_values.items() if v is not None}
    for key in PROXY_KEYS:  # read by httpx, requests and urllib from the process environment
        if key in merged and key not in os.environ:
            os.environ[key] = merged[key]
    merged.update(os.environ)
    return merged


def config_message(exc: ConfigError, env_file: str | None, tenants_file: str | None) -> str:
    """The problems, then where to fix them: the settings file (named, or said to be missing),
    and for problems inside ``APNS_TENANTS_FILE`` that file instead."""
    path = env_file or DEFAULT_ENV_FILE
    lines = "\n".join(f"  - {p}" for p in exc.problems)
    in_file = [p for p in exc.problems if tenants_file and p.startswith(str(Path(tenants_file)))]
    notes = []
    if len(in_file) < len(exc.problems):
        if os.path.isfile(path):
            notes.append(f"Fix these in {path} or in the environment.")
        else:
            notes.append(
                f"No {path} was found in {os.getcwd()}: copy .env.example to {path} and fill it "
                "in, or set these in the environment."
            )
    if in_file:
        notes.append(f"Problems that name {tenants_file} are fixed in that file.")
    return f"apns-bot is not configured correctly:\n{lines}\n{' '.join(notes)}"


def _overview_epilog() -> str:
    return (
        "examples:\n"
        "  apns-bot doctor              check settings, Slack, Entra and Graph\n"
        "  apns-bot run                 start the bot (or: make run)\n"
        "  apns-bot status --json       the certificate as JSON\n"
        "  apns-bot help inspect-cert   help for one command\n\n"
        "Settings come from the environment and ./.env (see .env.example and README.md)."
    )


def build_parser() -> argparse.ArgumentParser:
    from bot.cli import commands

    parser = argparse.ArgumentParser(
        prog="apns-bot",
        description="Keeps an Intune tenant's Apple MDM push certificate alive, from Slack.",
        epilog=_overview_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"apns-bot {__version__}")
    parser.add_argument("--env-file", default=None, metavar="FILE", help=ENV_FILE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in commands.MODULES:
        module.register(sub)
    help_parser = sub.add_parser(
        "help",
        help="show this overview, or one command's help",
        description="Show the overview of every command, or the help of one.",
        epilog="examples:\n  apns-bot help\n  apns-bot help status",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    help_parser.add_argument("topic", nargs="?", metavar="COMMAND", help="a command's name")
    help_parser.set_defaults(func=None)
    for name, child in sub.choices.items():
        # --env-file after the subcommand too; SUPPRESS keeps a value given before it
        child.add_argument(
            "--env-file", default=argparse.SUPPRESS, metavar="FILE", help=ENV_FILE_HELP
        )
        if name == "help":
            continue
        # raw text keeps the examples' layout, so the description is wrapped here
        child.description = textwrap.fill(" ".join((child.description or "").split()), 79)
        examples = commands.EXAMPLES.get(name, ())
        child.epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
        child.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _subparsers(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError("apns-bot has no subcommands")


def _flushed(code: int) -> int:
    """``code``, once what was printed has reached the reader (a closed pipe raises here)."""
    sys.stdout.flush()
    return code


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run one ``apns-bot`` command. Subcommands read "now" from ``args.clock`` and wait between
    retries with ``args.sleep``: tests pass a fixed clock and a sleep that only records."""
    parser = build_parser()
    args = parse_arguments(parser, list(sys.argv[1:] if argv is None else argv))
    args.clock, args.sleep = clock, sleep
    wants_json = bool(getattr(args, "json", False))
    env: dict[str, str] = {}
    try:
        if args.command is None or args.command == "help":
            return _flushed(show_help(parser, getattr(args, "topic", None)))
        env = load_environment(args.env_file)
        level = env.get("LOG_LEVEL", "INFO").upper()
        configure_logging(level if level in {"DEBUG", "INFO", "WARNING", "ERROR"} else "INFO")
        run: Runner = args.func
        return _flushed(run(args, env))
    except ApnsBotError as exc:
        message = (
            config_message(exc, args.env_file, env.get("APNS_TENANTS_FILE"))
            if isinstance(exc, ConfigError)
            else exc.user_message
        )
        if wants_json:
            print(json.dumps(error_document(exc, message), indent=2))
        else:
            print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `apns-bot doctor | head -3`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail
        return 141  # what a shell reports for SIGPIPE


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """argparse's own parsing; with ``--json`` a usage error is also a JSON object on stdout
    (argparse's usage text still goes to stderr, and the exit status stays 2)."""
    if "--json" not in argv:
        return parser.parse_args(argv)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parser.parse_args(argv)
    except SystemExit as exc:
        text = captured.getvalue()
        sys.stderr.write(text)
        if exc.code == 0:
            raise
        last = text.strip().splitlines()[-1] if text.strip() else "invalid arguments"
        message = last.split(": error: ", 1)[-1]
        print(json.dumps(error_document(UsageError(message)), indent=2))
        raise


def show_help(parser: argparse.ArgumentParser, topic: str | None) -> int:
    """``apns-bot``, ``apns-bot help`` and ``apns-bot help COMMAND``."""
    if topic is None:
        parser.print_help()
        return 0
    choices = _subparsers(parser).choices
    if topic not in choices:
        print(f"error: no command named {topic!r}; commands: {', '.join(choices)}", file=sys.stderr)
        return 2
    choices[topic].print_help()
    return 0
