"""``apns-bot keygen``: print a new key for ``APNS_TOKEN_KEY`` (delegated sign-in).

The key encrypts the approvers' saved Microsoft sign-ins, their pending sign-in codes and the
approved certificates in the database. Keep it like a password, outside the database's backups.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from bot.adapters.sealing import generate_key


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "keygen",
        help="print a new random key for APNS_TOKEN_KEY (delegated sign-in)",
        description=(
            "Print a new random key for APNS_TOKEN_KEY, which encrypts approvers' saved sign-ins, "
            "pending codes and approved certificates. Keep it like a password."
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    print(generate_key())
    return 0
