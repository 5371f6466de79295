"""The store contract for requests that renew an ADE or Apps and Books (VPP) token, on every
backend: the token part round-trips, the token file is sealed at rest like a certificate, and the
audit trail names the token, never its content."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.sealing import Sealer, generate_key
from bot.adapters.store import SqlStore
from bot.config import Secret
from bot.core.requests import ApplyResult, ChangeRequest, Failure, Rejection, Status, TokenChange
from bot.core.tokens import CredentialKind
from tests.adapters.store.conftest import Backend
from tests.adapters.store.fixtures import T0, request

CONTENT = "eyJ0b2tlbiI6InNlY3JldC12YWx1ZS0xMjM0NSIsImV4cERhdGUiOiIyMDI5In0="
SECRET_PART = "eyJ0b2tlbiI6InNlY3JldC12YWx1ZS0x"


def vpp_request() -> ChangeRequest:
    token = TokenChange(
        kind=CredentialKind.VPP,
        token_id="vpp-1",
        token_name="Contoso — Paris",
        organization="Contoso Ltd",
        current_apple_id="vpp@contoso.example",
        current_expiry=T0 + timedelta(days=10),
        current_modified=T0 - timedelta(days=300),
        new_expiry=T0 + timedelta(days=375),
    )
    return request(certificate_pem=CONTENT, topic="", serial="", current=None, token=token)


def test_a_vpp_request_round_trips_with_its_token_part(store: SqlStore) -> None:
    original = vpp_request()
    store.create_request(original)
    loaded = store.get_request(original.id)
    assert loaded == original
    assert loaded is not None and loaded.token is not None
    assert loaded.kind is CredentialKind.VPP and loaded.target == "vpp:vpp-1"
    assert loaded.token.new_expiry == T0 + timedelta(days=375)
    assert loaded.certificate_pem == CONTENT


def test_an_ade_request_with_unknown_facts_round_trips(store: SqlStore) -> None:
    token = TokenChange(kind=CredentialKind.ADE, token_id="ade-1")
    original = request(certificate_pem=CONTENT, topic="", serial="", current=None, token=token)
    store.create_request(original)
    loaded = store.get_request(original.id)
    assert loaded == original and loaded is not None and loaded.kind is CredentialKind.ADE


def test_push_requests_have_no_token_part(store: SqlStore) -> None:
    original = request()
    store.create_request(original)
    loaded = store.get_request(original.id)
    assert loaded is not None and loaded.token is None
    assert loaded.kind is CredentialKind.PUSH and loaded.target == "push"


def test_the_token_part_survives_every_transition(store: SqlStore) -> None:
    original = vpp_request()
    store.create_request(original)
    rid = original.id
    store.add_approval(rid, "UA", T0 + timedelta(minutes=1))
    assert store.transition(rid, Status.PENDING, Status.APPROVED, T0 + timedelta(minutes=2))
    assert store.transition(rid, Status.APPROVED, Status.APPLYING, T0 + timedelta(minutes=3))
    result = ApplyResult(None, None, T0 + timedelta(days=375))
    assert store.transition(
        rid, Status.APPLYING, Status.APPLIED, T0 + timedelta(minutes=4), result=result
    )
    loaded = store.get_request(rid)
    assert loaded is not None and loaded.status is Status.APPLIED
    assert loaded.token == original.token
    assert loaded.result == result
    assert [r.id for r in store.requests_in(Status.APPLIED)] == [rid]


def test_the_token_file_is_sealed_at_rest_and_never_in_the_audit_trail(backend: Backend) -> None:
    with backend.open(Sealer([Secret(generate_key())])) as store:
        original = vpp_request()
        store.create_request(original)
        loaded = store.get_request(original.id)
        assert loaded is not None and loaded.certificate_pem == CONTENT
        history = store.history("default", limit=10)
    [(column, part)] = backend.raw("SELECT certificate_pem, token_change FROM change_requests")
    assert column.startswith("sealed:v1:") and SECRET_PART not in column
    assert SECRET_PART not in part and "vpp-1" in part
    details = [str(dict(e.detail)) for e in history]
    assert details and not any(SECRET_PART in d for d in details)
    assert any("vpp-1" in d for d in details)


def _settle(store: SqlStore, rid: str, to: Status) -> None:
    at = T0 + timedelta(minutes=1)
    if to is Status.REJECTED or to is Status.CANCELLED:
        rejection = Rejection(by="UA", at=at, reason=None)
        assert store.transition(rid, Status.PENDING, to, at, rejection=rejection)
        return
    if to is Status.EXPIRED:
        assert [r.id for r in store.expire_due(T0 + timedelta(days=30))] == [rid]
        return
    store.add_approval(rid, "UA", at)
    assert store.transition(rid, Status.PENDING, Status.APPROVED, at)
    assert store.transition(rid, Status.APPROVED, Status.APPLYING, at)
    if to is Status.FAILED:
        assert store.transition(rid, Status.APPLYING, to, at, failure=Failure("x", "refused"))
    else:
        assert store.transition(rid, Status.APPLYING, to, at, result=ApplyResult(None, None, None))


def test_a_settled_token_request_drops_its_file_and_a_failed_one_keeps_it_for_retry(
    backend: Backend,
) -> None:
    with backend.open(Sealer([Secret(generate_key())])) as store:
        settled = (Status.APPLIED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED)
        for to in (*settled, Status.FAILED):
            original = vpp_request()
            store.create_request(original)
            _settle(store, original.id, to)
            loaded = store.get_request(original.id)
            assert loaded is not None and loaded.status is to
            assert loaded.certificate_pem == ("" if to in settled else CONTENT), to
            assert loaded.token == original.token
        push = request()  # a push certificate is public: it stays for the record
        store.create_request(push)
        _settle(store, push.id, Status.APPLIED)
        kept = store.get_request(push.id)
        assert kept is not None and kept.certificate_pem == push.certificate_pem
    columns = [c for (c,) in backend.raw("SELECT certificate_pem FROM change_requests")]
    assert sum(c == "" for c in columns) == 4 and not any(SECRET_PART in c for c in columns)
