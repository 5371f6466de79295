"""``apns-bot rekey``: seal every stored value again with the first ``APNS_TOKEN_KEY``.

Rotating the key: put the new key first (``APNS_TOKEN_KEY=new,old``) everywhere the bot runs
(every replica, every cron job: one still on the old key alone would remove what it can no longer
open) and restart it, run ``apns-bot rekey``, then drop the old key. Saved sign-ins, pending sign-in codes and approved
certificates are re-sealed in one transaction (safe while the bot runs: it seals with the first key
too); certificates stored before a key was configured are sealed now. Values no configured key
opens are left as they are and counted: those approvers sign in again. Prints counts, never values.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from bot.adapters.sealing import SEALED_PREFIX, Sealer, build_sealer
from bot.adapters.store import open_store
from bot.adapters.store.resealing import Sealed, fernet_token
from bot.config import load_settings
from bot.errors import ConfigError, SealError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rekey",
        help="seal every stored sign-in, code and certificate again with the first APNS_TOKEN_KEY",
        description=(__doc__ or "").split("\n\n")[1].replace("``", ""),
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only count what would be sealed again"
    )
    parser.set_defaults(func=run)


class Resealing:
    """The policy for each stored value; counts what it leaves alone and why."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.current = {kind: 0 for kind in Sealed}
        self.unreadable = {kind: 0 for kind in Sealed}

    def __call__(self, kind: Sealed, value: str) -> str | None:
        token = fernet_token(kind, value)
        if token is None:
            return self.sealer.seal_column(value)  # stored before APNS_TOKEN_KEY was set
        new = self._reseal(kind, token)
        if new is None or kind is not Sealed.CERTIFICATE:
            return new
        return SEALED_PREFIX + new

    def _reseal(self, kind: Sealed, token: str) -> str | None:
        if self.sealer.is_current(token):
            self.current[kind] += 1
            return None
        try:
            return self.sealer.reseal(token)
        except SealError:
            self.unreadable[kind] += 1
            return None


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = load_settings(env, need_slack=False, need_graph=False)
    sealer = build_sealer(settings.token_keys)
    if sealer is None:
        raise ConfigError(["APNS_TOKEN_KEY is not set: there is no key to seal with."])
    policy = Resealing(sealer)
    with open_store(settings, sealer=sealer) as store:
        changed = store.rewrite_sealed(policy, write=not args.dry_run)
    verb = "would seal again" if args.dry_run else "sealed again"
    for kind in Sealed:
        print(
            f"{kind.value}: {verb} {changed[kind]}, already on the first key "
            f"{policy.current[kind]}, opened by no configured key {policy.unreadable[kind]}"
        )
    unreadable = sum(policy.unreadable.values())
    if args.dry_run:
        print("Nothing was changed (--dry-run).")
    elif unreadable:
        print(
            f"{unreadable} value(s) open with none of the keys in APNS_TOKEN_KEY and were left as "
            "they are: those approvers sign in again (`/apns signin`). Everything else is on the "
            "first key."
        )
    else:
        print("Every stored value is sealed with the first key: older keys can be dropped.")
    return 0
