"""Which of a tenant's ADE or VPP tokens a person means (pure): by id or name, or the only one.

``choose_token(tokens, wanted)`` returns a ``TokenChoice``: the token, or why there is none
(``none``: the tenant has no token of the kind; ``several``: nothing was named and there is more
than one; ``unknown``: nothing matches the name). Names compare without case and extra spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.tokens import AppleToken

Why = Literal["none", "several", "unknown"]


@dataclass(frozen=True)
class TokenChoice:
    token: AppleToken | None
    why: Why | None = None  # set when ``token`` is None
    candidates: tuple[AppleToken, ...] = ()  # the tokens to choose from, for the answer


def _same(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def choose_token(tokens: Sequence[AppleToken], wanted: str | None) -> TokenChoice:
    everything = tuple(tokens)
    if not everything:
        return TokenChoice(None, "none")
    if wanted is not None and wanted.strip():
        key = _same(wanted)
        for token in everything:
            if _same(token.id) == key or (token.name and _same(token.name) == key):
                return TokenChoice(token)
        return TokenChoice(None, "unknown", everything)
    if len(everything) == 1:
        return TokenChoice(everything[0])
    return TokenChoice(None, "several", everything)
