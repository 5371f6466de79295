"""The list of subcommand modules, in the order ``apns-bot --help`` shows them."""

from __future__ import annotations

from types import ModuleType

from bot.cli import inspect_cert, run

MODULES: list[ModuleType] = [run, inspect_cert]
