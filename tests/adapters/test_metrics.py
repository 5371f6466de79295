"""PrometheusMetrics: what the last check of each tenant saw, per kind, and the outcome counters.

Check results are built here (with ADE and VPP reads, as the watch reports them) and the
exposition is read back with prometheus_client's own parser, as Prometheus would read it.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from bot.adapters.metrics import (
    MAX_LABEL_CHARS,
    PUSH_NAME,
    RENDER_REUSE_SECONDS,
    PrometheusMetrics,
    label,
)
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState
from bot.core.tokens import AppleToken, CredentialKind, ReadError, TokenRead
from bot.usecases.metrics import ApprovalOutcome, RequestOutcome, UploadOutcome
from bot.usecases.watch import CheckResult
from tests.clock import T0, days

ADE, VPP, PUSH = CredentialKind.ADE, CredentialKind.VPP, CredentialKind.PUSH
PUSH_APPLE_ID = "mdm-admin@contoso.example"
ABM_APPLE_ID = "abm-admin@contoso.example"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: PrometheusMetrics) -> Samples:
    """Every sample of the exposition, by name and sorted labels."""
    text = metrics.exposition().body.decode("utf-8")
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in found, f"duplicate series {key}"
            found[key] = sample.value
    return found


def expiry(found: Samples, tenant: str, kind: CredentialKind) -> dict[str, float]:
    """The ``name -> expiry`` series of one tenant's kind."""
    result: dict[str, float] = {}
    for (name, labels), value in found.items():
        tags = dict(labels)
        if name == "apns_bot_expiry_timestamp_seconds" and tags["tenant"] == tenant:
            result.update({tags["name"]: value} if tags["kind"] == kind.value else {})
    return result


def success(found: Samples, tenant: str, kind: CredentialKind) -> float | None:
    return found.get(
        ("apns_bot_check_success", (("kind", kind.value), ("tenant", tenant))),
    )


def certificate(expires_at: datetime | None = None) -> TenantCertificate:
    return TenantCertificate(
        apple_id=PUSH_APPLE_ID,
        topic="com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20",
        serial="0B7002EFEA6BA6D0",
        expires_at=expires_at or days(300),
    )


def token(
    kind: CredentialKind, id: str, name: str | None, expires_at: datetime | None
) -> AppleToken:
    return AppleToken(
        id=id,
        kind=kind,
        name=name,
        apple_id=ABM_APPLE_ID,
        organization="Contoso Ltd",
        expires_at=expires_at,
        state="valid" if kind is VPP else None,
    )


def checked(
    tenant: str = "default",
    *,
    at: datetime = T0,
    cert: TenantCertificate | None = None,
    error: str | None = None,
    tokens: tuple[TokenRead, ...] = (),
) -> CheckResult:
    if error is not None:
        return CheckResult(tenant, CheckState.FAILED, at, error=error, tokens=tokens)
    return CheckResult(tenant, CheckState.OK, at, certificate=cert or certificate(), tokens=tokens)


def forbidden(kind: CredentialKind) -> TokenRead:
    return TokenRead(kind, error=ReadError("forbidden", "Graph answered 403 for this kind."))


def test_a_check_shows_every_item_its_success_per_kind_and_when() -> None:
    metrics = PrometheusMetrics()
    ade = (token(ADE, "ade-1", "Contoso ABM", days(241)), token(ADE, "ade-2", "Schools", days(20)))
    vpp = (token(VPP, "vpp-1", "Contoso Apps", days(188)),)
    metrics.observe(
        checked(
            at=days(-0.5),
            cert=certificate(days(307)),
            tokens=(TokenRead(ADE, ade), TokenRead(VPP, vpp)),
        )
    )
    found = samples(metrics)
    assert expiry(found, "default", PUSH) == {PUSH_NAME: days(307).timestamp()}
    assert expiry(found, "default", ADE) == {
        "Contoso ABM": days(241).timestamp(),
        "Schools": days(20).timestamp(),
    }
    assert expiry(found, "default", VPP) == {"Contoso Apps": days(188).timestamp()}
    assert [success(found, "default", k) for k in (PUSH, ADE, VPP)] == [1.0, 1.0, 1.0]
    last = ("apns_bot_last_check_timestamp_seconds", (("tenant", "default"),))
    assert found[last] == days(-0.5).timestamp()


def test_a_kind_that_could_not_be_read_is_0_and_leaves_the_others_alone() -> None:
    metrics = PrometheusMetrics()
    ade = TokenRead(ADE, (token(ADE, "ade-1", "Contoso ABM", days(241)),))
    vpp = TokenRead(VPP, (token(VPP, "vpp-1", "Contoso Apps", days(188)),))
    metrics.observe(checked(tokens=(ade, vpp)))
    metrics.observe(checked(at=days(1), tokens=(forbidden(ADE), vpp)))
    found = samples(metrics)
    assert success(found, "default", ADE) == 0.0
    assert success(found, "default", VPP) == 1.0 and success(found, "default", PUSH) == 1.0
    # what the last good read saw stays: an alert on the expiry keeps firing while Graph refuses
    assert expiry(found, "default", ADE) == {"Contoso ABM": days(241).timestamp()}


def test_a_kind_never_read_has_success_0_and_no_expiry() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(checked(tokens=(forbidden(VPP),)))
    found = samples(metrics)
    assert success(found, "default", VPP) == 0.0
    assert expiry(found, "default", VPP) == {}


def test_a_failed_push_read_is_0_and_keeps_the_last_known_expiry() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(checked(cert=certificate(days(30))))
    metrics.observe(checked(at=days(1), error="Graph could not be reached (timed out)."))
    found = samples(metrics)
    assert success(found, "default", PUSH) == 0.0
    assert expiry(found, "default", PUSH) == {PUSH_NAME: days(30).timestamp()}
    last = ("apns_bot_last_check_timestamp_seconds", (("tenant", "default"),))
    assert found[last] == days(1).timestamp()


def test_items_that_disappeared_leave_at_the_tenants_next_check() -> None:
    metrics = PrometheusMetrics()
    two = (token(ADE, "ade-1", "Old", days(5)), token(ADE, "ade-2", "New", days(360)))
    metrics.observe(checked("alpha", tokens=(TokenRead(ADE, two),)))
    metrics.observe(checked("beta", tokens=(TokenRead(ADE, two),)))
    metrics.observe(checked("alpha", at=days(1), tokens=(TokenRead(ADE, two[1:]),)))
    found = samples(metrics)
    assert expiry(found, "alpha", ADE) == {"New": days(360).timestamp()}
    assert set(expiry(found, "beta", ADE)) == {"Old", "New"}  # not checked again yet

    gone = TenantCertificate(apple_id=None, topic=None, serial=None, expires_at=None)
    metrics.observe(checked("alpha", at=days(2), cert=gone, tokens=(TokenRead(ADE, ()),)))
    found = samples(metrics)
    assert expiry(found, "alpha", PUSH) == {} and expiry(found, "alpha", ADE) == {}
    assert success(found, "alpha", PUSH) == 1.0 and success(found, "alpha", ADE) == 1.0


def test_labels_hold_no_apple_id_and_stay_short() -> None:
    metrics = PrometheusMetrics()
    tokens = (
        token(ADE, "ade-id-1", ABM_APPLE_ID, days(100)),  # named after its Apple ID
        token(ADE, "ade-id-2", f"ABM ({ABM_APPLE_ID})", days(101)),
        token(ADE, "ade-id-3", "x" * 500, days(102)),
        token(ADE, "ade-id-4", 'quote " back\\slash\nnew line', days(103)),
        token(ADE, "ade-id-5", None, days(104)),  # no tokenName: the organisation
        token(ADE, "ade-id-6", "no expiry", None),  # nothing to show
    )
    metrics.observe(checked(tokens=(TokenRead(ADE, tokens),)))
    text = metrics.exposition().body.decode()
    assert "@" not in text and PUSH_APPLE_ID not in text and ABM_APPLE_ID not in text
    names = expiry(samples(metrics), "default", ADE)
    assert set(names) == {
        "ade-id-1",
        "ade-id-2",
        "x" * (MAX_LABEL_CHARS - 1) + "…",
        'quote " back\\slash new line',
        "Contoso Ltd",
    }


def test_two_tokens_with_one_name_are_both_shown_each_with_its_id() -> None:
    metrics = PrometheusMetrics()
    twins = (token(VPP, "vpp-a", "Contoso", days(10)), token(VPP, "vpp-b", "Contoso", days(20)))
    metrics.observe(checked(tokens=(TokenRead(VPP, twins),)))
    # every token sharing the name gets its id: labels do not depend on the order Graph lists them
    assert expiry(samples(metrics), "default", VPP) == {
        "Contoso (vpp-a)": days(10).timestamp(),
        "Contoso (vpp-b)": days(20).timestamp(),
    }


def test_two_long_names_alike_up_to_the_bound_are_both_shown_with_their_ids() -> None:
    metrics = PrometheusMetrics()
    stem = "Contoso Schools District " * 4  # 100 characters: beyond the bound
    ids = ("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809")
    long_twins = (
        token(ADE, ids[0], stem + "North", days(360)),
        token(ADE, ids[1], stem + "South", days(5)),  # the one about to expire
    )
    metrics.observe(checked(tokens=(TokenRead(ADE, long_twins),)))
    names = expiry(samples(metrics), "default", ADE)
    assert sorted(names.values()) == [days(5).timestamp(), days(360).timestamp()]
    for name, id in zip(sorted(names), ids, strict=True):
        assert name.endswith(f" ({id})") and len(name) <= MAX_LABEL_CHARS
        assert name.startswith("Contoso Schools District")


def test_a_clash_that_remains_keeps_the_earliest_expiry() -> None:
    metrics = PrometheusMetrics()
    same = (token(VPP, "vpp-a", "Contoso", days(200)), token(VPP, "vpp-a", "Contoso", days(9)))
    metrics.observe(checked(tokens=(TokenRead(VPP, same),)))
    assert expiry(samples(metrics), "default", VPP) == {"Contoso (vpp-a)": days(9).timestamp()}


def test_label_is_printable_and_bounded() -> None:
    assert label("a\tb\x00c") == "a b c"
    assert label("") == "-"
    assert len(label("é" * 1000)) == MAX_LABEL_CHARS


def test_counters_start_at_zero_for_every_outcome_and_count() -> None:
    metrics = PrometheusMetrics()
    found = samples(metrics)
    for name, outcomes in (
        ("apns_bot_requests_total", RequestOutcome),
        ("apns_bot_approvals_total", ApprovalOutcome),
        ("apns_bot_uploads_total", UploadOutcome),
    ):
        for outcome in outcomes:
            assert found[(name, (("kind", "push"), ("outcome", outcome.value)))] == 0.0
    metrics.requested(RequestOutcome.SENT)
    metrics.decided(ApprovalOutcome.APPROVED)
    metrics.decided(ApprovalOutcome.APPROVED)
    metrics.uploaded(UploadOutcome.FAILED, ADE)
    found = samples(metrics)
    assert found[("apns_bot_requests_total", (("kind", "push"), ("outcome", "sent")))] == 1.0
    assert found[("apns_bot_approvals_total", (("kind", "push"), ("outcome", "approved")))] == 2.0
    assert found[("apns_bot_uploads_total", (("kind", "ade"), ("outcome", "failed")))] == 1.0


def test_each_bot_has_its_own_registry() -> None:
    one, two = PrometheusMetrics(), PrometheusMetrics()
    one.requested(RequestOutcome.BLOCKED)
    one.observe(checked("alpha"))
    found = samples(two)
    assert found[("apns_bot_requests_total", (("kind", "push"), ("outcome", "blocked")))] == 0.0
    assert expiry(found, "alpha", PUSH) == {}


def test_a_failure_inside_the_metrics_never_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = PrometheusMetrics()

    def broken(result: CheckResult) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(metrics._checks, "observe", broken)
    metrics.observe(checked("alpha"))  # does not raise
    assert "could not record the check of alpha" in caplog.text


def test_a_name_holding_the_tokens_apple_id_is_replaced_even_when_not_an_email() -> None:
    metrics = PrometheusMetrics()
    bare = AppleToken(
        id="ade-id-9",
        kind=ADE,
        name="ABM token of ContosoAdmin01",
        apple_id="contosoadmin01",  # an Apple ID that is no e-mail address, in another case
        organization="Contoso Ltd",
        expires_at=days(100),
    )
    metrics.observe(checked(tokens=(TokenRead(ADE, (bare,)),)))
    assert expiry(samples(metrics), "default", ADE) == {"ade-id-9": days(100).timestamp()}
    assert "contosoadmin01" not in metrics.exposition().body.decode().lower()


def test_an_older_check_result_never_overwrites_a_newer_one() -> None:
    metrics = PrometheusMetrics()
    newer = TokenRead(ADE, (token(ADE, "ade-1", "Contoso ABM", days(365)),))
    older = TokenRead(ADE, (token(ADE, "ade-1", "Contoso ABM", days(3)),))
    metrics.observe(checked(at=days(1), cert=certificate(days(365)), tokens=(newer,)))
    # a retry that read Graph before the daily check finishes after it
    metrics.observe(checked(at=days(0.5), error="Graph could not be reached.", tokens=(older,)))
    found = samples(metrics)
    assert success(found, "default", PUSH) == 1.0
    assert expiry(found, "default", PUSH) == {PUSH_NAME: days(365).timestamp()}
    assert expiry(found, "default", ADE) == {"Contoso ABM": days(365).timestamp()}
    last = ("apns_bot_last_check_timestamp_seconds", (("tenant", "default"),))
    assert found[last] == days(1).timestamp()


class CountingEncoder:
    """prometheus_client's own negotiation, counting the renders; the first render can be held
    (``hold``) until ``release``."""

    def __init__(self, *, hold: bool = False) -> None:
        self.renders = 0
        self.held = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()

    def __call__(self, accept: str) -> tuple[Callable[[CollectorRegistry], bytes], str]:
        encode, content_type = choose_encoder(accept)

        def counted(registry: CollectorRegistry) -> bytes:
            self.renders += 1
            self.held.set()
            assert self.released.wait(10)
            return encode(registry)

        return counted, content_type


def test_parallel_scrapes_share_one_render() -> None:
    encoder = CountingEncoder(hold=True)
    metrics = PrometheusMetrics(choose=encoder, monotonic=lambda: 0.0)
    metrics.observe(checked("alpha"))
    bodies: list[bytes] = []

    def scrape() -> None:
        bodies.append(metrics.exposition().body)

    threads = [threading.Thread(target=scrape) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert encoder.held.wait(10)  # one render under way, the other scrapes wait for it
    encoder.released.set()
    for thread in threads:
        thread.join(10)
    assert encoder.renders == 1
    assert len(bodies) == 8 and len(set(bodies)) == 1 and b'tenant="alpha"' in bodies[0]


def test_a_render_is_reused_until_a_change_or_five_seconds() -> None:
    encoder = CountingEncoder()
    now = [0.0]
    metrics = PrometheusMetrics(choose=encoder, monotonic=lambda: now[0])
    first = metrics.exposition()
    assert metrics.exposition() is first and encoder.renders == 1
    metrics.observe(checked("alpha"))
    assert b'tenant="alpha"' in metrics.exposition().body and encoder.renders == 2
    metrics.requested(RequestOutcome.SENT)
    assert b'outcome="sent"} 1.0' in metrics.exposition().body and encoder.renders == 3
    metrics.exposition()
    now[0] += RENDER_REUSE_SECONDS
    metrics.exposition()
    assert encoder.renders == 4


def test_gzip_when_the_scraper_accepts_it() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(checked("alpha"))
    plain = metrics.exposition()
    packed = metrics.exposition(accept_encoding="gzip, deflate")
    assert plain.content_encoding is None and packed.content_encoding == "gzip"
    assert gzip.decompress(packed.body) == plain.body


def test_the_format_is_negotiated_by_prometheus_client() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(checked("alpha"))
    text = metrics.exposition()
    assert text.content_type == "text/plain; version=0.0.4; charset=utf-8"
    open_metrics = metrics.exposition(
        accept="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    )
    assert open_metrics.content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert open_metrics.body.endswith(b"# EOF\n")
    assert b"_created" not in text.body + open_metrics.body  # no creation time series


def test_a_seeded_push_expiry_shows_until_the_first_check_and_nothing_else() -> None:
    metrics = PrometheusMetrics()
    metrics.seed("alpha", certificate(days(40)))
    metrics.seed("beta", None)  # never checked before: nothing known
    found = samples(metrics)
    assert expiry(found, "alpha", PUSH) == {PUSH_NAME: days(40).timestamp()}
    assert success(found, "alpha", PUSH) is None  # unknown until the first check
    assert not [key for key in found if key[0] == "apns_bot_last_check_timestamp_seconds"]
    assert not [key for key in found if ("tenant", "beta") in key[1]]
    metrics.observe(checked("alpha", error="Graph could not be reached."))
    found = samples(metrics)
    assert success(found, "alpha", PUSH) == 0.0
    assert expiry(found, "alpha", PUSH) == {PUSH_NAME: days(40).timestamp()}


def test_a_seed_never_overwrites_a_check() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(checked("alpha", cert=certificate(days(300))))
    metrics.seed("alpha", certificate(days(40)))
    assert expiry(samples(metrics), "alpha", PUSH) == {PUSH_NAME: days(300).timestamp()}


def test_a_token_kind_failing_leaves_the_push_certificate_read() -> None:
    """The watch reports the worst state over every kind: FAILED here is the ADE read's."""
    metrics = PrometheusMetrics()
    result = CheckResult(
        "default",
        CheckState.FAILED,
        T0,
        certificate=certificate(days(90)),
        tokens=(forbidden(ADE),),
        watched=(PUSH, ADE),
    )
    metrics.observe(result)
    found = samples(metrics)
    assert success(found, "default", PUSH) == 1.0 and success(found, "default", ADE) == 0.0
    assert expiry(found, "default", PUSH) == {PUSH_NAME: days(90).timestamp()}


def test_a_push_certificate_not_watched_has_no_series() -> None:
    metrics = PrometheusMetrics()
    metrics.seed("default", certificate(days(90)))
    vpp = TokenRead(VPP, (token(VPP, "vpp-1", "Contoso Apps", days(188)),))
    metrics.observe(CheckResult("default", CheckState.OK, T0, tokens=(vpp,), watched=(VPP,)))
    found = samples(metrics)
    assert expiry(found, "default", PUSH) == {}
    assert ("apns_bot_check_success", (("kind", "push"), ("tenant", "default"))) not in found
    assert success(found, "default", VPP) == 1.0


def test_a_token_kind_no_longer_watched_has_no_series() -> None:
    metrics = PrometheusMetrics()
    ade = TokenRead(ADE, (token(ADE, "ade-1", "Contoso ABM", days(241)),))
    vpp = TokenRead(VPP, (token(VPP, "vpp-1", "Contoso Apps", days(188)),))
    metrics.observe(checked(tokens=(ade, vpp)))
    watched = (PUSH, VPP)
    later = CheckResult(
        "default", CheckState.OK, days(1), certificate(), tokens=(vpp,), watched=watched
    )
    metrics.observe(later)
    found = samples(metrics)
    assert expiry(found, "default", ADE) == {} and success(found, "default", ADE) is None
    assert success(found, "default", VPP) == success(found, "default", PUSH) == 1.0
    assert expiry(found, "default", VPP) == {"Contoso Apps": days(188).timestamp()}
