"""What the batched-read tests share: the plain reads to compare with, and what went over the wire."""

from __future__ import annotations

import re
from typing import Any

from bot.adapters.graph.client import HttpGraphClient
from bot.core.tokens import CredentialKind
from bot.errors import ApnsBotError, GraphError
from bot.usecases.watched import WatchedRead
from tests.clock import days
from tests.fakes.graph_server import FakeGraph
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH, TokenKind, ade_token, vpp_token

ADE, VPP = CredentialKind.ADE, CredentialKind.VPP
KINDS = (ADE, VPP)
PATHS = {ADE: ADE_PATH, VPP: VPP_PATH}
IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # per request


def read_all(graph: HttpGraphClient) -> WatchedRead:
    return graph.read_watched(True, KINDS)


def plain(graph: HttpGraphClient) -> WatchedRead:
    """The same items read one by one, as before batching (no batch is sent)."""
    results: dict[str, Any] = {}
    for name, read in (
        ("push", graph.get_certificate),
        ("ade", graph.list_ade_tokens),
        ("vpp", graph.list_vpp_tokens),
    ):
        try:
            results[name] = read()
        except ApnsBotError as exc:
            results[name] = exc
    tokens = {
        kind: value if isinstance(value, ApnsBotError) else tuple(value)
        for kind, value in ((ADE, results["ade"]), (VPP, results["vpp"]))
    }
    return WatchedRead(results["push"], tokens)


def same(batched: object, alone: object) -> None:
    """Equal values, or errors of the same kind, status, code and message (ids apart)."""
    if isinstance(alone, GraphError):
        assert isinstance(batched, GraphError)
        assert (batched.status, batched.code) == (alone.status, alone.code)
        assert IDS.sub("<id>", batched.user_message) == IDS.sub("<id>", alone.user_message)
    else:
        assert batched == alone


def same_reads(batched: WatchedRead, alone: WatchedRead) -> None:
    same(batched.certificate, alone.certificate)
    assert set(batched.tokens) == set(alone.tokens)
    for kind in batched.tokens:
        same(batched.tokens[kind], alone.tokens[kind])


def wire(fake: FakeGraph) -> list[str]:
    """What went over the wire: ``METHOD path`` of every Graph request not inside a batch."""
    return [f"{r.method} {r.path}" for r in fake.graph_requests() if not r.batched]


def several(kind: TokenKind, count: int) -> list[dict[str, Any]]:
    make = ade_token if kind == "ade" else vpp_token
    return [make(id=f"{kind}-{n}", expires_at=days(30 * (n + 1))) for n in range(count)]
