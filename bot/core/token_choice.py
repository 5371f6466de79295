"""Which of a tenant's ADE or VPP tokens a person means (pure): by id or name, or the only one.

``choose_token(tokens, wanted)`` returns a ``TokenChoice``: the token, or why there is none
(``none``: the tenant has no token of the kind; ``several``: nothing was named and there is more
than one; ``unknown``: nothing matches the name). Names compare without case and extra spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.core.model import TenantCertificate
from bot.core.status import Urgency, urgency
from bot.core.tokens import AppleToken, token_urgency

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


def most_urgent(
    certificate: TenantCertificate | None, tokens: Sequence[AppleToken], now: datetime
) -> AppleToken | None:
    """The token to preselect when asking what to renew, or None for the push certificate: the
    highest urgency on the certificate's scale, then the earliest expiry; the certificate wins
    ties (it is what most people come for)."""
    best: AppleToken | None = None
    best_key = (
        _key(urgency(certificate, now), certificate.expires_at)
        if certificate is not None
        else _key(None, None)
    )
    for token in tokens:
        key = _key(token_urgency(token, now), token.expires_at)
        if key > best_key:
            best, best_key = token, key
    return best


def by_urgency(tokens: Sequence[AppleToken], now: datetime) -> list[AppleToken]:
    """The tokens most urgent first (highest urgency, then earliest expiry), e.g. to show the
    ones that matter when only some fit."""
    return sorted(tokens, key=lambda t: _key(token_urgency(t, now), t.expires_at), reverse=True)


def _key(found: Urgency | None, expires_at: datetime | None) -> tuple[int, float]:
    rank = found.rank if found is not None else -1
    return rank, -expires_at.timestamp() if expires_at is not None else float("-inf")
