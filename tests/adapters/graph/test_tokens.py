"""Listing ADE and Apps and Books (VPP) tokens through the fake Graph, over real sockets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.graph.client import HttpGraphClient, build_graph_client, parse_timestamp
from bot.adapters.graph.errors import READ_PERMISSION
from bot.adapters.graph.tokens import (
    MAX_PAGES,
    beta_base,
    parse_ade_token,
    parse_vpp_token,
    read_collection,
)
from bot.config import load_settings
from bot.core.tokens import AppleToken, CredentialKind
from bot.errors import GraphError
from tests.clock import T0, RecordingSleep, days
from tests.fakes import graph_tokens as tokens
from tests.fakes.graph_server import FAKE_TENANT_ID, FakeGraph, Fault
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH, TokenKind, ade_token, vpp_token

KINDS: list[TokenKind] = ["ade", "vpp"]
PATH = {"ade": ADE_PATH, "vpp": VPP_PATH}


def listed(graph: HttpGraphClient, kind: TokenKind) -> list[AppleToken]:
    return graph.list_ade_tokens() if kind == "ade" else graph.list_vpp_tokens()


def several(kind: TokenKind, count: int) -> list[dict[str, Any]]:
    make = ade_token if kind == "ade" else vpp_token
    return [make(id=f"{kind}-{n}", expires_at=days(30 * (n + 1))) for n in range(count)]


# --- healthy tenants -------------------------------------------------------------------------------


def test_reads_the_default_ade_token(graph: HttpGraphClient, fake_graph: FakeGraph):
    (token,) = graph.list_ade_tokens()

    assert token == AppleToken(
        id="0f6b3c9a-2d41-4e8b-9b7a-5c1d3e2f4a60_9C2F1A7E4B3D2C1E",
        kind=CredentialKind.ADE,
        name="Contoso ABM",
        apple_id="abm-admin@contoso.example",
        organization=None,
        expires_at=tokens.DEFAULT_ADE_EXPIRY,
        state=None,
        last_sync=T0 - timedelta(hours=4, minutes=17),
        sync_error=None,
        last_modified=T0 - timedelta(days=124, hours=3),
    )
    (request,) = fake_graph.graph_requests()
    assert request.path == "/beta/deviceManagement/depOnboardingSettings"
    assert request.headers["authorization"].startswith("Bearer ")


def test_reads_the_default_vpp_token_with_its_beta_display_name(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    (token,) = graph.list_vpp_tokens()

    assert token == AppleToken(
        id="7d0e4b2a-9c61-4f3d-8a5e-1b2c3d4e5f60",
        kind=CredentialKind.VPP,
        name="Contoso Apps and Books",
        apple_id="apps-admin@contoso.example",
        organization="Contoso Ltd",
        expires_at=tokens.DEFAULT_VPP_EXPIRY,
        state="valid",
        last_sync=T0 - timedelta(hours=9, minutes=2),
        sync_error=None,
        last_modified=T0 - timedelta(days=177, hours=5),
    )
    assert [r.path for r in fake_graph.graph_requests()] == ["/beta/deviceAppManagement/vppTokens"]


def test_on_v1_0_vpp_is_named_by_its_organisation_and_ade_still_reads_from_beta(
    graph_env: dict[str, str], fake_graph: FakeGraph
):
    settings = load_settings({**graph_env, "GRAPH_URL": f"{fake_graph.url}/v1.0"}, need_slack=False)
    with build_graph_client(settings, settings.default_tenant) as client:
        (vpp,) = client.list_vpp_tokens()
        (ade,) = client.list_ade_tokens()
    assert vpp.name == vpp.organization == "Contoso Ltd"
    assert ade.name == "Contoso ABM"
    assert [r.path for r in fake_graph.graph_requests()] == [
        "/v1.0/deviceAppManagement/vppTokens",
        "/beta/deviceManagement/depOnboardingSettings",
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_several_tokens_in_graphs_order(
    graph: HttpGraphClient, fake_graph: FakeGraph, kind: TokenKind
):
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, several(kind, 3))
    found = listed(graph, kind)
    assert [t.id for t in found] == [f"{kind}-0", f"{kind}-1", f"{kind}-2"]
    assert [t.days_left(T0) for t in found] == [30, 60, 90]
    assert {t.kind for t in found} == {CredentialKind(kind)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_tenant_without_tokens_lists_none(
    graph: HttpGraphClient, fake_graph: FakeGraph, kind: TokenKind
):
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, [])
    assert listed(graph, kind) == []


def test_troubled_tokens_keep_what_graph_says(graph: HttpGraphClient, fake_graph: FakeGraph):
    tenant = FAKE_TENANT_ID
    fake_graph.apple_tokens.set(
        tenant, "ade", [ade_token(sync_error_code=-2146233088, last_sync=days(-3))]
    )
    fake_graph.apple_tokens.set(
        tenant,
        "vpp",
        [vpp_token(display_name=None, state="invalid", last_sync_status="failed", expires_at=None)],
    )
    (ade,) = graph.list_ade_tokens()
    (vpp,) = graph.list_vpp_tokens()
    assert (ade.sync_error, ade.last_sync) == ("-2146233088", days(-3))
    assert (vpp.name, vpp.state, vpp.sync_error, vpp.expires_at) == (
        "Contoso Ltd",
        "invalid",
        "failed",
        None,
    )


# --- paging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_follows_next_links_across_three_pages(
    graph: HttpGraphClient, fake_graph: FakeGraph, kind: TokenKind
):
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, several(kind, 5))
    fake_graph.apple_tokens.page_size = 2

    assert [t.id for t in listed(graph, kind)] == [f"{kind}-{n}" for n in range(5)]
    pages = fake_graph.requests_to(PATH[kind], "GET")
    assert len(pages) == 3
    assert pages[0].query == ""
    assert all(p.query.startswith("$skiptoken=") for p in pages[1:])
    assert len({p.headers["client-request-id"] for p in pages}) == 3


def test_a_next_link_off_the_graph_host_is_not_followed():
    sent: list[str] = []

    def fetch(url: str, action: str) -> Any:
        sent.append(url)
        return {
            "value": [{"id": "a"}],
            "@odata.nextLink": "https://evil.example/beta/x?$skiptoken=1",
        }

    with pytest.raises(GraphError, match=r"outside https://graph\.microsoft\.com"):
        read_collection(fetch, "first", "list", "https://graph.microsoft.com")
    assert sent == ["first"]  # the bearer token never went to the other host


def test_a_next_link_that_never_ends_is_given_up():
    def fetch(url: str, action: str) -> Any:
        return {"value": [], "@odata.nextLink": "https://graph.microsoft.com/beta/x?$skiptoken=1"}

    with pytest.raises(GraphError, match=f"more than {MAX_PAGES} pages"):
        read_collection(fetch, "first", "list", "https://graph.microsoft.com")


def test_an_answer_without_a_list_is_an_error():
    with pytest.raises(GraphError, match="without a list"):
        read_collection(lambda url, action: {"value": None}, "first", "list", "https://g.example")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://graph.microsoft.com/v1.0/", "https://graph.microsoft.com/beta/"),
        ("https://graph.microsoft.com/beta/", "https://graph.microsoft.com/beta/"),
        ("https://graph.microsoft.us/v1.0/", "https://graph.microsoft.us/beta/"),
    ],
)
def test_ade_is_read_from_beta(base: str, expected: str):
    assert beta_base(base) == expected


# --- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_403_for_one_kind_names_the_permission_and_hides_no_other(
    graph: HttpGraphClient, fake_graph: FakeGraph, kind: TokenKind
):
    fake_graph.apple_tokens.deny(FAKE_TENANT_ID, kind)
    other: TokenKind = "vpp" if kind == "ade" else "ade"

    with pytest.raises(GraphError) as caught:
        listed(graph, kind)

    assert caught.value.status == 403
    assert READ_PERMISSION in str(caught.value)
    assert ("ADE" if kind == "ade" else "VPP") in str(caught.value)
    assert len(listed(graph, other)) == 1
    assert graph.get_certificate().exists
    assert len(fake_graph.requests_to(PATH[kind], "GET")) == 1  # a 403 is not retried


def test_an_app_without_the_permission_reads_no_kind(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.set_permission("None")
    for kind in KINDS:
        with pytest.raises(GraphError) as caught:
            listed(graph, kind)
        assert caught.value.status == 403


def test_a_forbidden_fault_on_one_path_fails_that_kind_only(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("GET", VPP_PATH, Fault.forbidden())
    with pytest.raises(GraphError, match=READ_PERMISSION):
        graph.list_vpp_tokens()
    assert len(graph.list_ade_tokens()) == 1
    assert len(graph.list_vpp_tokens()) == 1  # the fault was for one request


@pytest.mark.parametrize("kind", KINDS)
def test_429_with_retry_after_is_waited_out_mid_paging(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep, kind: TokenKind
):
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, several(kind, 2))
    fake_graph.apple_tokens.page_size = 1
    fake_graph.inject("GET", PATH[kind], Fault.throttle(retry_after=2))

    assert len(listed(graph, kind)) == 2
    assert sleeps.delays == [2.0]
    assert len(fake_graph.requests_to(PATH[kind], "GET")) == 3


def test_an_unreadable_expiry_is_an_error_naming_it():
    with pytest.raises(GraphError, match="tokenExpirationDateTime"):
        parse_ade_token(ade_token(expires_at="next spring"), parse_timestamp)


@pytest.mark.parametrize(
    ("code", "expected"), [(0, None), ("0", None), (None, None), (7, "7"), (True, None)]
)
def test_ade_sync_error_is_a_non_zero_code(code: object, expected: str | None):
    entity = {**ade_token(), "lastSyncErrorCode": code}
    assert parse_ade_token(entity, parse_timestamp).sync_error == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("completed", None), ("inProgress", None), ("none", None), ("failed", "failed")],
)
def test_vpp_sync_error_is_a_failed_status(status: str, expected: str | None):
    entity = vpp_token(last_sync_status=status)
    assert parse_vpp_token(entity, parse_timestamp).sync_error == expected


# --- a token without an id -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "missing", [None, ..., "", "   "], ids=["absent", "null", "empty", "blank"]
)
def test_a_listed_token_without_an_id_is_skipped_with_one_warning(
    graph: HttpGraphClient,
    fake_graph: FakeGraph,
    caplog: pytest.LogCaptureFixture,
    kind: TokenKind,
    missing: Any,
) -> None:
    """Ids key a token's once-only notices and its renewal: one without is of no use, and says so
    in the log (tenant and kind, never the token's properties)."""
    first, second, third = several(kind, 3)
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, [first, tokens.without_id(second, missing)])
    fake_graph.apple_tokens.page_size = 1  # the id-less one on a page of its own
    with caplog.at_level("WARNING", logger="bot.adapters.graph.tokens"):
        assert [t.id for t in listed(graph, kind)] == [f"{kind}-0"]
        fake_graph.apple_tokens.set(FAKE_TENANT_ID, kind, [third])
        assert [t.id for t in listed(graph, kind)] == [f"{kind}-2"]  # no id-less one: no warning
    [warning] = [r for r in caplog.records if r.name == "bot.adapters.graph.tokens"]
    text = warning.getMessage()
    assert warning.levelname == "WARNING"
    assert "tenant default" in text and CredentialKind(kind).label in text and "number 2" in text
    name = second.get("tokenName") or second.get("displayName")
    assert "@" not in text and str(name) not in text  # no Apple ID, no property of the token


def test_every_id_less_token_is_one_warning(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    ade = [tokens.without_id(t) for t in several("ade", 2)] + several("ade", 1)
    fake_graph.apple_tokens.set(FAKE_TENANT_ID, "ade", ade)
    with caplog.at_level("WARNING", logger="bot.adapters.graph.tokens"):
        assert [t.id for t in graph.list_ade_tokens()] == ["ade-0"]
    said = [r.getMessage() for r in caplog.records if r.name == "bot.adapters.graph.tokens"]
    assert len(said) == 2 and "number 1" in said[0] and "number 2" in said[1]
