"""Judging a token renewal against Graph's read-back (pure), and what to preselect when asking
what to renew."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.model import TenantCertificate
from bot.core.requests import ChangeRequest, TokenChange, new_change_request
from bot.core.token_choice import most_urgent
from bot.core.token_requests import (
    renewed_elsewhere,
    shows_new_expiry,
    token_apply_blocker,
    token_landed,
)
from bot.core.tokens import AppleToken, CredentialKind
from tests.clock import T0, days

MODIFIED = T0 - timedelta(days=100)


def token(kind: CredentialKind, **kw: object) -> AppleToken:
    base = AppleToken(
        id="t1",
        kind=kind,
        name="Contoso",
        apple_id="a@contoso.example",
        organization="Contoso Ltd" if kind is CredentialKind.VPP else None,
        expires_at=days(20),
        last_modified=MODIFIED,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def request(kind: CredentialKind, new_expiry: object = None) -> ChangeRequest:
    change = TokenChange(
        kind=kind,
        token_id="t1",
        token_name="Contoso",
        current_expiry=days(20),
        current_modified=MODIFIED,
        new_expiry=new_expiry,  # type: ignore[arg-type]
    )
    return new_change_request(
        id="req_x",
        tenant="default",
        requester="U1",
        apple_id="a@contoso.example",
        certificate_pem="content",
        sha256="00",
        topic="",
        serial="",
        not_after=days(365),
        now=T0,
        ttl=timedelta(hours=24),
        token=change,
    )


def test_vpp_is_in_place_when_graph_shows_the_files_expiry() -> None:
    vpp = request(CredentialKind.VPP, days(365))
    assert shows_new_expiry(vpp, token(CredentialKind.VPP, expires_at=days(365)))
    assert not shows_new_expiry(vpp, token(CredentialKind.VPP))
    assert not token_landed(vpp, token(CredentialKind.VPP))
    # Intune took it but shows the old expiry a while: the modification date tells
    assert token_landed(vpp, token(CredentialKind.VPP, last_modified=T0))


def test_a_vpp_expiry_moved_to_another_date_is_someone_elses_token_not_ours() -> None:
    vpp = request(CredentialKind.VPP, days(365))
    console = token(CredentialKind.VPP, expires_at=days(300), last_modified=T0)
    assert not token_landed(vpp, console)
    assert renewed_elsewhere(vpp, console)
    assert not renewed_elsewhere(vpp, token(CredentialKind.VPP, last_modified=T0))
    assert not renewed_elsewhere(vpp, token(CredentialKind.VPP, expires_at=days(365)))


def test_an_intune_sync_that_only_bumps_last_modified_neither_blocks_nor_shows_a_new_expiry() -> (
    None
):
    synced = token(CredentialKind.ADE, last_modified=T0)
    ade = request(CredentialKind.ADE)
    assert not shows_new_expiry(ade, synced)
    assert token_apply_blocker(ade, synced, T0) is None
    vpp = request(CredentialKind.VPP, days(365))
    assert token_apply_blocker(vpp, token(CredentialKind.VPP, last_modified=T0), T0) is None


def test_an_ade_token_moved_to_another_apple_id_blocks_the_upload() -> None:
    ade = replace(
        request(CredentialKind.ADE),
        token=TokenChange(
            kind=CredentialKind.ADE,
            token_id="t1",
            current_apple_id="a@contoso.example",
            current_expiry=days(20),
            current_modified=MODIFIED,
        ),
    )
    moved = token(CredentialKind.ADE, apple_id="b@contoso.example")
    blocker = token_apply_blocker(ade, moved, T0)
    assert blocker is not None and blocker.code == "tenant_changed"
    assert (
        token_apply_blocker(ade, token(CredentialKind.ADE, apple_id="A@Contoso.example"), T0)
        is None
    )


def test_ade_landed_when_its_modification_or_expiry_moved() -> None:
    ade = request(CredentialKind.ADE)
    assert not token_landed(ade, token(CredentialKind.ADE))
    assert token_landed(ade, token(CredentialKind.ADE, last_modified=T0))
    assert token_landed(ade, token(CredentialKind.ADE, expires_at=days(365)))
    assert shows_new_expiry(ade, token(CredentialKind.ADE, expires_at=days(365)))


def test_before_the_first_upload_a_moved_token_or_an_expired_file_blocks_it() -> None:
    vpp = request(CredentialKind.VPP, days(365))
    assert token_apply_blocker(vpp, token(CredentialKind.VPP), T0) is None
    changed = token_apply_blocker(vpp, token(CredentialKind.VPP, expires_at=days(300)), T0)
    assert changed is not None and changed.code == "tenant_changed"
    expired = token_apply_blocker(vpp, token(CredentialKind.VPP), days(366))
    assert expired is not None and expired.code == "expired"


def test_the_most_urgent_is_preselected_and_the_certificate_wins_ties() -> None:
    cert = TenantCertificate(apple_id="a", topic="t", serial="1", expires_at=days(100))
    soon = token(CredentialKind.VPP, expires_at=days(5))
    later = token(CredentialKind.ADE, id="t2", expires_at=days(200))
    assert most_urgent(cert, [later, soon], T0) == soon
    assert most_urgent(cert, [later], T0) is None
    calm = replace(cert, expires_at=days(300))
    assert most_urgent(calm, [later], T0) == later  # both calm: the earlier expiry
    assert most_urgent(replace(cert, expires_at=days(200)), [later], T0) is None  # a tie
    assert most_urgent(None, [later], T0) == later


def test_an_intune_sync_before_the_upload_is_not_taken_for_the_upload() -> None:
    """Intune bumped lastModifiedDateTime on its own sync between the request and its approval;
    the upload then got no answer and did not land: only a move past the modification date read
    just before the upload counts, for either kind."""
    synced = MODIFIED + timedelta(days=1)
    for kind in (CredentialKind.VPP, CredentialKind.ADE):
        pending = request(kind, days(365) if kind is CredentialKind.VPP else None)
        after_sync = token(kind, last_modified=synced)
        assert token_apply_blocker(pending, after_sync, T0) is None  # the upload goes ahead
        assert not token_landed(pending, after_sync, modified_before=synced), kind
        assert token_landed(pending, token(kind, last_modified=T0), modified_before=synced), kind
