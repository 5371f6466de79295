"""The Graph adapter against the fake Entra ID + Graph, over real sockets."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import formatdate

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.adapters.entra.providers import build_token_provider
from bot.adapters.graph.client import (
    EmptyValueError,
    HttpGraphClient,
    build_graph_client,
    parse_certificate,
    parse_timestamp,
)
from bot.adapters.graph.retry import RetryPolicy, parse_retry_after
from bot.config import Settings, load_settings
from bot.errors import ApnsBotError, GraphError
from tests.clock import T0, RecordingSleep
from tests.fakes import graph_shapes as shapes
from tests.fakes.graph_server import FAKE_CLIENT_SECRET, FakeGraph, Fault
from tests.fakes.graph_shapes import CERT_PATH, CSR_PATH


def push_cert_pem(days: int = 365) -> tuple[str, x509.Certificate]:
    """A minimal push-certificate look-alike: the subject layout Intune derives the topic from."""
    topic_uuid = str(uuid.uuid4()).upper()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, f"com.apple.mgmt.External.{topic_uuid}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"APSP:{topic_uuid}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )
    now = T0
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() >> 96)  # 64 bits, like Apple's
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), certificate


def graph_gets(fake: FakeGraph, path: str = CERT_PATH) -> list[str]:
    return [r.headers["client-request-id"] for r in fake.requests_to(path, "GET")]


# --- reading -------------------------------------------------------------------------------------


def test_reads_the_certificate_as_graph_reports_it(graph: HttpGraphClient, fake_graph: FakeGraph):
    certificate = graph.get_certificate()

    assert certificate.apple_id == "mdm-admin@contoso.example"
    assert certificate.topic == "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
    assert certificate.serial == "0B7002EFEA6BA6D0"
    assert certificate.expires_at == shapes.DEFAULT_EXPIRY
    assert certificate.last_modified == shapes.DEFAULT_LAST_MODIFIED
    assert certificate.exists
    (request,) = fake_graph.requests_to(CERT_PATH, "GET")
    assert request.path == "/beta/deviceManagement/applePushNotificationCertificate"
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.headers["return-client-request-id"] == "true"
    assert uuid.UUID(request.headers["client-request-id"]).version == 4


def test_v1_0_works_too(graph_env: dict[str, str], fake_graph: FakeGraph):
    settings = load_settings({**graph_env, "GRAPH_URL": f"{fake_graph.url}/v1.0"}, need_slack=False)
    with build_graph_client(settings, settings.default_tenant) as client:
        assert client.get_certificate().serial == "0B7002EFEA6BA6D0"
    assert fake_graph.graph_requests()[0].path.startswith("/v1.0/")


def test_a_tenant_without_certificate_reads_as_missing(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.clear_certificate()
    certificate = graph.get_certificate()
    assert certificate.expires_at is None
    assert not certificate.exists


def test_client_request_id_is_fresh_on_every_call(graph: HttpGraphClient, fake_graph: FakeGraph):
    graph.get_certificate()
    graph.download_csr()
    graph.get_certificate()
    ids = [r.headers["client-request-id"] for r in fake_graph.graph_requests()]
    assert len(ids) == 3
    assert len(set(ids)) == 3


def test_one_token_serves_several_calls(graph: HttpGraphClient, fake_graph: FakeGraph):
    graph.get_certificate()
    graph.download_csr()
    graph.get_certificate()
    assert len(fake_graph.token_requests()) == 1
    tokens = {r.headers["authorization"] for r in fake_graph.graph_requests()}
    assert len(tokens) == 1


def test_an_expired_token_is_refreshed_once(graph: HttpGraphClient, fake_graph: FakeGraph):
    graph.get_certificate()
    fake_graph.revoke_tokens()
    assert graph.get_certificate().serial == "0B7002EFEA6BA6D0"
    assert len(fake_graph.token_requests()) == 2
    first, rejected, retried = (r.headers["authorization"] for r in fake_graph.graph_requests())
    assert first == rejected != retried


def test_a_401_with_a_fresh_token_is_not_retried_forever(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    fake_graph.inject("GET", CERT_PATH, Fault.unauthorized(), Fault.unauthorized())
    with pytest.raises(GraphError) as caught:
        graph.get_certificate()
    assert caught.value.status == 401
    assert caught.value.code == "InvalidAuthenticationToken"
    assert len(graph_gets(fake_graph)) == 2
    assert len(fake_graph.token_requests()) == 2


def test_csr_is_returned_byte_for_byte(graph: HttpGraphClient, fake_graph: FakeGraph):
    assert graph.download_csr() == fake_graph.csr()
    (request,) = fake_graph.requests_to(CSR_PATH, "GET")
    assert request.path.endswith("/downloadApplePushNotificationCertificateSigningRequest")


# --- retries ---------------------------------------------------------------------------------------


def test_429_with_retry_after_2_is_waited_out(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps
):
    fake_graph.inject("GET", CERT_PATH, Fault.throttle(retry_after=2))
    certificate = graph.get_certificate()
    assert certificate.serial == "0B7002EFEA6BA6D0"
    assert sleeps.delays == [2.0]
    assert len(graph_gets(fake_graph)) == 2


def test_retry_after_as_an_http_date_is_honoured(settings: Settings, fake_graph: FakeGraph, sleeps):
    when = time.time() + 3600
    # The clock says 0.05 s before the date the server names: the client waits that long.
    policy = RetryPolicy(base_delay=5.0, sleep=sleeps, clock=lambda: int(when) - 0.05)
    fake_graph.inject("GET", CERT_PATH, Fault.throttle(retry_after=formatdate(when, usegmt=True)))
    with build_graph_client(settings, settings.default_tenant, retry=policy) as client:
        client.get_certificate()
    assert sleeps.delays == [pytest.approx(0.05)]


def test_429_without_retry_after_backs_off_exponentially(
    settings: Settings, fake_graph: FakeGraph, sleeps
):
    policy = RetryPolicy(base_delay=0.01, max_delay=1.0, sleep=sleeps, jitter=lambda: 1.0)
    fake_graph.inject("GET", CERT_PATH, Fault.throttle(), Fault.throttle(), Fault.throttle())
    with build_graph_client(settings, settings.default_tenant, retry=policy) as client:
        client.get_certificate()
    assert sleeps.delays == [pytest.approx(0.01), pytest.approx(0.02), pytest.approx(0.04)]


def test_backoff_has_full_jitter_and_caps():
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=lambda: 0.25)
    assert [policy.backoff(n) for n in (1, 2, 3, 6)] == [0.125, 0.25, 0.5, 2.0]
    worst = RetryPolicy(jitter=lambda: 1.0)
    waits = [worst.backoff(n) for n in range(1, worst.max_attempts)]
    assert waits == [0.5, 1.0, 2.0]
    assert sum(waits) <= worst.max_total_wait


def test_three_503s_then_success_succeeds(graph: HttpGraphClient, fake_graph: FakeGraph, sleeps):
    fake_graph.inject("GET", CERT_PATH, *[Fault.unavailable()] * 3)
    assert graph.get_certificate().serial == "0B7002EFEA6BA6D0"
    ids = graph_gets(fake_graph)
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert len(sleeps.delays) == 3


def test_504_is_retried(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.inject("GET", CSR_PATH, Fault.gateway_timeout())
    assert graph.download_csr() == fake_graph.csr()


def test_persistent_503_fails_clearly_in_bounded_time(
    graph: HttpGraphClient, fake_graph: FakeGraph, sleeps: RecordingSleep
):
    fake_graph.inject("GET", CERT_PATH, *[Fault.unavailable()] * 10)
    with pytest.raises(GraphError) as caught:
        graph.get_certificate()
    assert len(sleeps.delays) == 3  # one wait between attempts, each within the policy's cap
    assert all(0 <= delay <= 0.05 for delay in sleeps.delays)
    error = caught.value
    assert error.status == 503
    assert error.code == "ServiceUnavailable"
    assert error.transient
    assert "after 4 attempts" in error.user_message
    assert error.request_id and error.request_id in error.user_message
    sent = graph_gets(fake_graph)
    assert len(sent) == 4
    assert error.client_request_id == sent[-1]
    assert fake_graph.pending_faults() == 6


def test_a_retry_after_beyond_the_budget_is_not_waited(graph: HttpGraphClient, fake_graph, sleeps):
    fake_graph.inject("GET", CERT_PATH, Fault.throttle(retry_after=3600))
    with pytest.raises(GraphError) as caught:
        graph.get_certificate()
    assert caught.value.status == 429
    assert "asked to wait 3600 s" in caught.value.user_message
    assert sleeps.delays == []


def test_a_dropped_connection_is_retried(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.inject("GET", CERT_PATH, Fault.drop_connection(), Fault.drop_connection())
    assert graph.get_certificate().exists
    assert len(graph_gets(fake_graph)) == 3


def test_a_silent_host_is_reported_as_timed_out_not_waited_on_again(
    settings: Settings, fake_graph: FakeGraph, fast_retry: RetryPolicy, sleeps: RecordingSleep
) -> None:
    fake_graph.inject("GET", CERT_PATH, Fault.slow(1.0))
    tenant = settings.default_tenant
    provider = build_token_provider(settings, tenant)
    with (
        HttpGraphClient(
            tenant,
            provider,
            ca_bundle=settings.ca_bundle,
            retry=fast_retry,
            timeout=httpx.Timeout(0.3, connect=2.0),
            on_close=provider.close,
        ) as client,
        pytest.raises(GraphError) as caught,
    ):
        client.get_certificate()
    assert "timed out, 127.0.0.1 did not answer" in caught.value.user_message
    assert len(graph_gets(fake_graph)) == 1
    assert sleeps.delays == []


def test_an_untrusted_certificate_fails_at_once(settings: Settings, fake_graph: FakeGraph, sleeps):
    class StaticToken:
        def token(self) -> str:
            return "not-used"

        def invalidate(self, token: str) -> None:
            raise AssertionError("no answer, so nothing to invalidate")

    untrusted = Settings(slack=None, tenants=settings.tenants, ca_bundle=None)
    policy = RetryPolicy(sleep=sleeps)
    client = build_graph_client(
        untrusted, untrusted.default_tenant, token_provider=StaticToken(), retry=policy
    )
    with client, pytest.raises(GraphError) as caught:
        client.get_certificate()
    assert "SSL_CERT_FILE" in caught.value.user_message
    assert sleeps.delays == []


# --- writing ---------------------------------------------------------------------------------------


def test_an_upload_may_take_longer_than_a_read(
    settings: Settings, fake_graph: FakeGraph, fast_retry: RetryPolicy
) -> None:
    fake_graph.inject("PATCH", CERT_PATH, Fault.slow(0.6))
    tenant = settings.default_tenant
    provider = build_token_provider(settings, tenant)
    with HttpGraphClient(
        tenant,
        provider,
        ca_bundle=settings.ca_bundle,
        retry=fast_retry,
        timeout=httpx.Timeout(0.3, connect=2.0),
        on_close=provider.close,
    ) as client:
        pem, _ = push_cert_pem()
        assert client.update_certificate("mdm-admin@contoso.example", pem).exists
    assert len(fake_graph.requests_to(CERT_PATH, "PATCH")) == 1


def test_patch_sends_exactly_apple_id_and_certificate(
    graph: HttpGraphClient, fake_graph: FakeGraph
):
    pem, certificate = push_cert_pem()
    updated = graph.update_certificate("mdm-admin@contoso.example", pem)

    (request,) = fake_graph.requests_to(CERT_PATH, "PATCH")
    assert request.json == {"appleIdentifier": "mdm-admin@contoso.example", "certificate": pem}
    assert request.headers["content-type"] == "application/json"
    topic = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
    assert updated.topic == topic
    assert updated.serial == f"{certificate.serial_number:016X}"
    assert updated.expires_at == certificate.not_valid_after_utc
    assert updated.last_modified is not None  # 7 fractional digits, as Intune writes them
    assert fake_graph.entity()["topicIdentifier"] == topic


@pytest.mark.parametrize(
    ("apple_id", "pem"),
    [("", "PEM"), ("   ", "PEM"), ("mdm-admin@contoso.example", ""), ("a@b.example", " \n")],
)
def test_patch_refuses_empty_values_before_any_request(
    graph: HttpGraphClient, fake_graph: FakeGraph, apple_id: str, pem: str
):
    with pytest.raises(EmptyValueError) as caught:
        graph.update_certificate(apple_id, pem)
    assert isinstance(caught.value, ApnsBotError)
    assert isinstance(caught.value, ValueError)
    assert fake_graph.requests == []


def test_patch_is_retried_on_429(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.inject("PATCH", CERT_PATH, Fault.throttle(retry_after=0))
    pem, certificate = push_cert_pem()
    assert (
        graph.update_certificate("a@b.example", pem).serial == f"{certificate.serial_number:016X}"
    )
    assert len(fake_graph.requests_to(CERT_PATH, "PATCH")) == 2


@pytest.mark.parametrize(
    "fault", [Fault.unavailable(), Fault.gateway_timeout(), Fault.error_after_apply()]
)
def test_patch_is_not_retried_after_a_server_error(graph: HttpGraphClient, fake_graph, fault):
    fake_graph.inject("PATCH", CERT_PATH, fault)
    pem, _ = push_cert_pem()
    with pytest.raises(GraphError) as caught:
        graph.update_certificate("a@b.example", pem)
    assert caught.value.transient
    assert "read the certificate back" in caught.value.user_message
    assert len(fake_graph.requests_to(CERT_PATH, "PATCH")) == 1


def test_a_failed_patch_may_have_applied_and_reading_back_shows_it(
    graph: HttpGraphClient, fake_graph
):
    fake_graph.inject("PATCH", CERT_PATH, Fault.error_after_apply())
    pem, certificate = push_cert_pem()
    with pytest.raises(GraphError) as caught:
        graph.update_certificate("a@b.example", pem)
    assert caught.value.status == 500
    assert "_version" not in caught.value.user_message
    assert graph.get_certificate().serial == f"{certificate.serial_number:016X}"


def test_patch_is_not_retried_after_a_dropped_connection(graph: HttpGraphClient, fake_graph):
    fake_graph.inject("PATCH", CERT_PATH, Fault.drop_connection())
    pem, _ = push_cert_pem()
    with pytest.raises(GraphError) as caught:
        graph.update_certificate("a@b.example", pem)
    assert caught.value.status is None
    assert caught.value.transient
    assert "may or may not have reached Intune" in caught.value.user_message
    assert len(fake_graph.requests_to(CERT_PATH, "PATCH")) == 1


# --- errors ------------------------------------------------------------------------------------------


def test_intunes_nested_error_is_unwrapped(graph: HttpGraphClient, fake_graph: FakeGraph):
    bad_pem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    with pytest.raises(GraphError) as caught:
        graph.update_certificate("a@b.example", bad_pem)
    error = caught.value
    assert error.status == 400
    assert error.code == "BadRequest"
    assert "The certificate could not be parsed - Operation ID (for customer support)" in (
        error.user_message
    )
    assert "Activity ID" in error.user_message
    assert "_version" not in error.user_message
    assert "Url:" not in error.user_message
    assert not error.transient
    (request,) = fake_graph.requests_to(CERT_PATH, "PATCH")
    assert error.client_request_id == request.headers["client-request-id"]
    assert error.request_id is not None
    assert len(error.request_id) == 36


def test_a_nested_error_on_read_is_not_retried(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.inject("GET", CERT_PATH, Fault.intune_bad_request())
    with pytest.raises(GraphError, match="An error has occurred - Operation ID"):
        graph.get_certificate()
    assert len(graph_gets(fake_graph)) == 1


def test_403_on_read_names_both_permissions_and_where_to_grant(graph, fake_graph: FakeGraph):
    fake_graph.set_permission("None")
    with pytest.raises(GraphError) as caught:
        graph.get_certificate()
    message = caught.value.user_message
    assert caught.value.status == 403
    assert caught.value.code == "Forbidden"
    assert "DeviceManagementServiceConfig.Read.All (read-only monitoring)" in message
    assert "DeviceManagementServiceConfig.ReadWrite.All (needed to renew)" in message
    assert "API permissions" in message
    assert "Application permissions" in message
    assert "Grant admin consent" in message
    assert graph.tenant.client_id in message


def test_403_on_upload_names_the_write_permission(graph: HttpGraphClient, fake_graph: FakeGraph):
    fake_graph.set_permission("Read")
    graph.get_certificate()  # reading still works for a read-only app
    pem, _ = push_cert_pem()
    with pytest.raises(GraphError) as caught:
        graph.update_certificate("a@b.example", pem)
    message = caught.value.user_message
    assert "lacks the application permission DeviceManagementServiceConfig.ReadWrite.All" in message
    assert "Read.All (read-only" not in message


def test_nothing_secret_reaches_the_bots_logs(graph, fake_graph: FakeGraph, caplog):
    caplog.set_level(logging.DEBUG)
    fake_graph.inject("GET", CERT_PATH, Fault.unavailable())
    pem, _ = push_cert_pem()
    graph.get_certificate()
    graph.update_certificate("a@b.example", pem)
    token = fake_graph.graph_requests()[0].headers["authorization"].split()[1]
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "retry 1" in ours
    for secret in (token, FAKE_CLIENT_SECRET, pem.splitlines()[1]):
        assert secret not in ours


# --- parsing -----------------------------------------------------------------------------------------


def test_the_docs_value_wrapper_and_seven_fractional_digits_are_understood():
    certificate = parse_certificate(
        {
            "value": {
                "appleIdentifier": "Apple Identifier value",
                "topicIdentifier": "Topic Identifier value",
                "lastModifiedDateTime": "2017-01-01T00:00:35.1329464-08:00",
                "expirationDateTime": "2016-12-31T23:57:57.2481234-08:00",
                "certificateUploadStatus": "Certificate Upload Status value",
                "certificateUploadFailureReason": "",
                "certificate": "Certificate value",
            }
        }
    )
    assert certificate.expires_at == datetime(2017, 1, 1, 7, 57, 57, 248123, tzinfo=UTC)
    assert certificate.last_modified == datetime(2017, 1, 1, 8, 0, 35, 132946, tzinfo=UTC)
    assert certificate.upload_status == "Certificate Upload Status value"
    assert certificate.upload_failure_reason is None
    assert certificate.serial is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-10-06T13:11:28Z", datetime(2027, 10, 6, 13, 11, 28, tzinfo=UTC)),
        ("2027-10-06T13:11:28", datetime(2027, 10, 6, 13, 11, 28, tzinfo=UTC)),
        ("2027-10-06T15:11:28.5+0200", datetime(2027, 10, 6, 13, 11, 28, 500000, tzinfo=UTC)),
        ("2027-10-06T13:11:28.123456789Z", datetime(2027, 10, 6, 13, 11, 28, 123456, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamps_parse_robustly(text: str | None, expected: datetime | None):
    assert parse_timestamp(text) == expected


def test_an_unreadable_expiry_is_an_error_not_a_missing_certificate():
    with pytest.raises(GraphError, match="cannot read"):
        parse_certificate({"expirationDateTime": "next Tuesday", "topicIdentifier": "x"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 90.0),  # 100 s after the epoch, "now" is 10 s
        ("Thu, 01 Jan 1970 00:00:05 GMT", 0.0),  # already past
        ("soon", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, expected: float | None):
    assert parse_retry_after(header, now=10.0) == expected


def test_graph_client_is_a_context_manager_that_closes_what_it_owns(settings: Settings):
    closed: list[str] = []
    provider = build_token_provider(settings, settings.default_tenant)

    def close_provider() -> None:
        closed.append("tokens")
        provider.close()

    with HttpGraphClient(
        settings.default_tenant, provider, ca_bundle=settings.ca_bundle, on_close=close_provider
    ) as client:
        client.get_certificate()
    assert closed == ["tokens"]
    client.close()  # closing twice is harmless
    assert closed == ["tokens"]
