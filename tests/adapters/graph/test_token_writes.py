"""Renewing ADE and Apps and Books tokens through the fake Graph, over real sockets: paths, bodies,
errors, and uploads that are never sent twice blindly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.adapters.graph.client import HttpGraphClient, build_graph_client
from bot.adapters.graph.retry import RetryPolicy
from bot.adapters.graph.token_writes import EmptyTokenError
from bot.adapters.tls import ssl_context
from bot.config import Settings, load_settings
from bot.core.ade_token import encrypted_to, read_ade_token, read_intune_key
from bot.errors import GraphError, UploadOutcomeUnknown
from tests.clock import T0, RecordingSleep, days
from tests.fakes.graph_server import FakeGraph, Fault
from tests.fakes.graph_tokens import ADE_PATH, VPP_PATH, ade_token, vpp_token
from tests.tokengen import ade_token_file, intune_key, vpp_token_file

ADE_ID = ade_token()["id"]
VPP_ID = vpp_token()["id"]
APPLE_ID = "abm-admin@contoso.example"


def uploads(fake: FakeGraph, suffix: str, method: str = "POST") -> list[object]:
    return [r for r in fake.requests_to(suffix, method)]


# --- ADE: Intune's key ------------------------------------------------------------------------


def test_downloads_intunes_public_key_for_an_ade_token(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    pem = graph.ade_public_key(ADE_ID)

    assert pem == intune_key(1).pem
    (request,) = fake_graph.graph_requests()
    assert request.method == "GET"
    assert request.path == f"/beta{ADE_PATH}/{ADE_ID}/getEncryptionPublicKey()"
    token = read_ade_token(ade_token_file(intune_key(1)))
    assert encrypted_to(token, read_intune_key(pem))


def test_the_key_is_read_on_beta_even_when_graph_url_names_v1(
    graph_env: dict[str, str], fake_graph: FakeGraph
):
    env = {**graph_env, "GRAPH_URL": graph_env["GRAPH_URL"].replace("/beta", "/v1.0")}
    settings = load_settings(env, need_slack=False)
    with build_graph_client(settings, settings.default_tenant) as client:
        assert client.ade_public_key(ADE_ID) == intune_key(1).pem
        assert client.get_vpp_token(VPP_ID).id == VPP_ID
    paths = [r.path for r in fake_graph.graph_requests()]
    assert paths[0].startswith("/beta/") and paths[1] == f"/v1.0{VPP_PATH}/{VPP_ID}"


def test_an_id_is_one_path_segment(graph: HttpGraphClient, fake_graph: FakeGraph):
    with pytest.raises(GraphError) as caught:
        graph.ade_public_key("../../applePushNotificationCertificate")
    assert caught.value.status == 404
    (request,) = fake_graph.graph_requests()
    assert request.path == f"/beta{ADE_PATH}/..%2F..%2FapplePushNotificationCertificate" + (
        "/getEncryptionPublicKey()"
    )
    with pytest.raises(EmptyTokenError):
        graph.ade_public_key(" ")


# --- ADE: upload and read-back ----------------------------------------------------------------


def test_uploads_a_server_token_and_reads_the_new_expiry_back(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    content = read_ade_token(ade_token_file(intune_key(1), expires_at=days(365))).content

    assert graph.upload_ade_token(ADE_ID, f" {APPLE_ID} ", content) is None

    (request,) = uploads(fake_graph, "/uploadDepToken")
    assert request.path == f"/beta{ADE_PATH}/{ADE_ID}/uploadDepToken"
    assert request.json == {"appleId": APPLE_ID, "depToken": content}
    token = graph.get_ade_token(ADE_ID)
    assert token.expires_at == days(365) and token.apple_id == APPLE_ID


def test_a_token_for_another_key_is_refused_by_intune_and_changes_nothing(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    before = graph.get_ade_token(ADE_ID)
    content = ade_token_file(intune_key(7)).decode()
    with pytest.raises(GraphError) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, content)
    assert caught.value.status == 400 and not isinstance(caught.value, UploadOutcomeUnknown)
    assert "could not be decrypted" in caught.value.user_message
    assert graph.get_ade_token(ADE_ID) == before


def test_a_503_on_the_upload_is_not_sent_again(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("POST", "/uploadDepToken", Fault.unavailable())
    with pytest.raises(UploadOutcomeUnknown) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file().decode())
    assert len(uploads(fake_graph, "/uploadDepToken")) == 1 and sleeps.delays == []
    assert caught.value.kind == "ade" and caught.value.token_id == ADE_ID
    assert caught.value.status == 503 and caught.value.transient
    assert "read the ADE token back" in caught.value.user_message
    assert "certificate" not in caught.value.user_message


def test_a_500_after_intune_applied_the_upload_shows_in_the_read_back(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("POST", "/uploadDepToken", Fault.error_after_apply())
    with pytest.raises(UploadOutcomeUnknown):
        graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file(expires_at=days(300)).decode())
    assert graph.get_ade_token(ADE_ID).expires_at == days(300)  # it landed: read back first
    assert len(uploads(fake_graph, "/uploadDepToken")) == 1


def test_a_dropped_connection_on_the_upload_is_an_unknown_outcome(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("POST", "/uploadDepToken", Fault.drop_connection())
    with pytest.raises(UploadOutcomeUnknown) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file().decode())
    assert caught.value.status is None
    assert len(uploads(fake_graph, "/uploadDepToken")) == 1


def test_a_throttled_upload_is_retried_because_graph_did_not_process_it(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("POST", "/uploadDepToken", Fault.throttle(1))
    graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file(expires_at=days(333)).decode())
    assert len(uploads(fake_graph, "/uploadDepToken")) == 2 and sleeps.delays == [1.0]
    assert graph.get_ade_token(ADE_ID).expires_at == days(333)


def test_a_read_only_app_cannot_upload_and_is_told_the_permission(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.set_permission("Read")
    assert graph.ade_public_key(ADE_ID)  # reading the key is allowed
    with pytest.raises(GraphError) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file().decode())
    assert caught.value.status == 403 and not caught.value.transient
    assert "DeviceManagementServiceConfig.ReadWrite.All" in caught.value.user_message


def test_empty_values_are_never_sent(graph: HttpGraphClient, fake_graph: FakeGraph):
    with pytest.raises(EmptyTokenError):
        graph.upload_ade_token(ADE_ID, " ", ade_token_file().decode())
    with pytest.raises(EmptyTokenError):
        graph.upload_ade_token(ADE_ID, APPLE_ID, "\n")
    with pytest.raises(EmptyTokenError):
        graph.upload_vpp_token(VPP_ID, "")
    assert fake_graph.graph_requests() == []


def test_the_read_back_can_lag_behind_the_upload(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.token_writes.lag_reads = 2
    before = graph.get_ade_token(ADE_ID).expires_at
    graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file(expires_at=days(365)).decode())
    assert graph.get_ade_token(ADE_ID).expires_at == before
    assert graph.get_ade_token(ADE_ID).expires_at == before
    assert graph.get_ade_token(ADE_ID).expires_at == days(365)


# --- VPP -----------------------------------------------------------------------------------------


def test_uploads_a_vpp_token_then_syncs_its_licences(graph: HttpGraphClient, fake_graph: FakeGraph):
    data = vpp_token_file("Contoso Ltd", days(365))

    graph.upload_vpp_token(VPP_ID, data.decode() + "\n")
    graph.sync_vpp_licenses(VPP_ID)

    (patch,) = uploads(fake_graph, f"{VPP_PATH}/{VPP_ID}", "PATCH")
    assert patch.path == f"/beta{VPP_PATH}/{VPP_ID}"
    assert patch.json == {"token": data.decode()}
    (sync,) = uploads(fake_graph, "/syncLicenses")
    assert sync.path == f"/beta{VPP_PATH}/{VPP_ID}/syncLicenses" and sync.body == b""
    token = graph.get_vpp_token(VPP_ID)
    assert token.expires_at == days(365) and token.state == "valid"
    assert token.last_sync == T0


def test_a_sync_answered_with_204_is_fine(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.token_writes.sync_status = 204
    graph.sync_vpp_licenses(VPP_ID)
    assert len(uploads(fake_graph, "/syncLicenses")) == 1


def test_a_sync_is_retried_after_a_503(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("POST", "/syncLicenses", Fault.unavailable())
    graph.sync_vpp_licenses(VPP_ID)
    assert len(uploads(fake_graph, "/syncLicenses")) == 2 and len(sleeps.delays) == 1


def test_a_503_on_the_vpp_patch_is_not_sent_again(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("PATCH", f"{VPP_PATH}/{VPP_ID}", Fault.unavailable())
    with pytest.raises(UploadOutcomeUnknown) as caught:
        graph.upload_vpp_token(VPP_ID, vpp_token_file().decode())
    assert caught.value.kind == "vpp" and sleeps.delays == []
    assert len(uploads(fake_graph, f"{VPP_PATH}/{VPP_ID}", "PATCH")) == 1
    assert "Apps and Books (VPP) token back" in caught.value.user_message


def test_a_damaged_vpp_token_is_refused_without_an_unknown_outcome(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    before = graph.get_vpp_token(VPP_ID)
    with pytest.raises(GraphError) as caught:
        graph.upload_vpp_token(VPP_ID, "bm90IGpzb24=")
    assert caught.value.status == 400 and not isinstance(caught.value, UploadOutcomeUnknown)
    assert graph.get_vpp_token(VPP_ID) == before  # nothing changed


def test_an_unknown_token_is_a_404(graph: HttpGraphClient, fake_graph: FakeGraph):
    with pytest.raises(GraphError) as caught:
        graph.get_vpp_token("no-such-token")
    assert caught.value.status == 404


def test_the_token_content_never_reaches_a_log_line(
    graph: HttpGraphClient, fake_graph: FakeGraph, caplog: pytest.LogCaptureFixture
):
    caplog.set_level("DEBUG")
    content = ade_token_file().decode()
    fake_graph.inject("POST", "/uploadDepToken", Fault.unavailable())
    with pytest.raises(UploadOutcomeUnknown) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, content)
    body = content.split("\r\n\r\n", 1)[1]
    lines = [line for line in body.split("\r\n") if len(line) >= 16]  # every base64 line
    assert lines, "the token has a body to leak"
    error = caught.value
    shown = " ".join((caplog.text, error.user_message, str(error), repr(error), repr(error.cause)))
    for line in lines:
        assert line not in shown
    assert body.replace("\r\n", "") not in shown.replace("\n", "")


# --- connections that never opened: nothing was sent --------------------------------------------


class RefusingConnections(httpx.HTTPTransport):
    """The real transport, but the first connections fail as ``failures`` say (nothing sent)."""

    def __init__(self, failures: list[httpx.TransportError], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = failures

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            raise self.failures.pop(0)
        return super().handle_request(request)


@pytest.fixture
def refusing(settings: Settings, fast_retry: RetryPolicy) -> Iterator[Callable[..., Any]]:
    clients: list[HttpGraphClient] = []

    def build(*failures: httpx.TransportError) -> HttpGraphClient:
        transport = RefusingConnections(list(failures), verify=ssl_context(settings.ca_bundle))
        http = httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, connect=2.0))
        client = build_graph_client(settings, settings.default_tenant, retry=fast_retry, http=http)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
        client._http.close()


def test_an_upload_whose_connection_timed_out_is_sent_again_because_nothing_was_sent(
    refusing: Callable[..., HttpGraphClient], fake_graph: FakeGraph, sleeps: RecordingSleep
):
    graph = refusing(httpx.ConnectTimeout("connect timed out"), httpx.ConnectError("refused"))
    graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file(expires_at=days(333)).decode())
    assert len(uploads(fake_graph, "/uploadDepToken")) == 1 and len(sleeps.delays) == 2
    assert graph.get_ade_token(ADE_ID).expires_at == days(333)


def test_an_upload_that_never_connected_is_not_an_unknown_outcome(
    refusing: Callable[..., HttpGraphClient], fake_graph: FakeGraph, sleeps: RecordingSleep
):
    graph = refusing(*[httpx.ConnectError("connection refused") for _ in range(4)])
    with pytest.raises(GraphError) as caught:
        graph.upload_vpp_token(VPP_ID, vpp_token_file().decode())
    assert not isinstance(caught.value, UploadOutcomeUnknown)
    assert caught.value.sent is False and caught.value.status is None
    assert "nothing was sent" in caught.value.user_message
    assert "may or may not" not in caught.value.user_message
    assert fake_graph.requests_to(f"{VPP_PATH}/{VPP_ID}", "PATCH") == []
    assert len(sleeps.delays) == 3  # every attempt the policy allows


def test_an_upload_that_timed_out_once_sent_is_an_unknown_outcome(
    refusing: Callable[..., HttpGraphClient], fake_graph: FakeGraph, sleeps: RecordingSleep
):
    graph = refusing(httpx.ReadTimeout("no answer"))
    with pytest.raises(UploadOutcomeUnknown) as caught:
        graph.upload_ade_token(ADE_ID, APPLE_ID, ade_token_file().decode())
    assert caught.value.sent is True and sleeps.delays == []
    assert "may or may not have reached Intune" in caught.value.user_message
