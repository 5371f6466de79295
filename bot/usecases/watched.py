"""One tenant's watched credentials as one read found them: ``WatchedRead``, and how to read it.

``GraphClient.read_watched(push, kinds)`` reads the push certificate (``push``) and the token
lists of ``kinds`` and returns, per item, either its value or the ``ApnsBotError`` that reading it
raised: one item failing hides no other. ``HttpGraphClient`` does it with one Graph request where
it can (JSON batching, ``bot.adapters.graph.batch``); test doubles read ``one_by_one``.

An unexpected exception (a bug) while reading one token kind becomes that kind's
``UnexpectedReadError`` (logged with its traceback, never shown): it must not hide the other
kinds. The certificate's unexpected exceptions are not caught (as before batching: the caller's
"something went wrong" handling reports them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from bot.core.model import TenantCertificate
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import ApnsBotError

log = logging.getLogger(__name__)

Tokens = tuple[AppleToken, ...]


class UnexpectedReadError(ApnsBotError):
    """Reading one token kind failed with a bug, not a Graph error (see the bot's log)."""

    def __init__(self, kind: CredentialKind) -> None:
        super().__init__(f"reading the {kind.label}s failed unexpectedly (see the bot's log)")
        self.kind = kind


@dataclass(frozen=True)
class WatchedRead:
    """Per watched item, its value or why it could not be read."""

    certificate: TenantCertificate | ApnsBotError | None = None  # None: not asked for
    tokens: Mapping[CredentialKind, Tokens | ApnsBotError] = field(default_factory=dict)


class ItemReader(Protocol):
    """The three reads ``one_by_one`` makes (every ``GraphClient`` has them)."""

    def get_certificate(self) -> TenantCertificate: ...

    def list_ade_tokens(self) -> list[AppleToken]: ...

    def list_vpp_tokens(self) -> list[AppleToken]: ...


def read_certificate(read: Callable[[], TenantCertificate]) -> TenantCertificate | ApnsBotError:
    try:
        return read()
    except ApnsBotError as exc:
        return exc


def read_tokens(
    kind: CredentialKind, read: Callable[[], list[AppleToken]]
) -> Tokens | ApnsBotError:
    """One kind's tokens, or why not; a bug becomes ``UnexpectedReadError`` (logged)."""
    try:
        return tuple(read())
    except ApnsBotError as exc:
        log.debug("cannot read the %s tokens: %s", kind.value, exc.user_message)
        return exc
    except Exception:  # a bug reading one kind must not hide the others
        log.exception("reading the %s tokens failed unexpectedly", kind.value)
        return UnexpectedReadError(kind)


def list_tokens(client: ItemReader, kind: CredentialKind) -> list[AppleToken]:
    if kind is CredentialKind.ADE:
        return client.list_ade_tokens()
    if kind is CredentialKind.VPP:
        return client.list_vpp_tokens()
    raise ValueError(f"{kind} is not a token kind")


def one_by_one(client: ItemReader, push: bool, kinds: Sequence[CredentialKind]) -> WatchedRead:
    """``read_watched`` as one plain read after the other (the test doubles' implementation)."""
    certificate = read_certificate(client.get_certificate) if push else None
    tokens = {kind: read_tokens(kind, partial(list_tokens, client, kind)) for kind in kinds}
    return WatchedRead(certificate, tokens)
