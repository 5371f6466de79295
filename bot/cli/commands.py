"""The list of subcommand modules, in the order ``apns-bot --help`` shows them."""

from __future__ import annotations

from types import ModuleType

from bot.cli import check, doctor, inspect_cert, keygen, rekey, run, status

MODULES: list[ModuleType] = [run, status, check, doctor, inspect_cert, keygen, rekey]
