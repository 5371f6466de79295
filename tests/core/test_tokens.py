"""ADE and VPP tokens as values: days left, problems and urgency on the push certificate's scale."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot.core.model import TenantCertificate
from bot.core.status import Urgency, urgency
from bot.core.tokens import (
    AppleToken,
    CredentialKind,
    TokenProblem,
    time_sync_failures,
    token_problem,
    token_urgency,
)
from tests.clock import T0, days


def ade(expires_at: datetime | None = None, **fields: object) -> AppleToken:
    values: dict[str, object] = {
        "id": "4a2c1e6f-0b7d-4f3e-9a1c-2d5e8f0a3b6c",
        "kind": CredentialKind.ADE,
        "name": "Contoso ABM",
        "apple_id": "abm-admin@contoso.example",
        "organization": None,
        "expires_at": days(200) if expires_at is None else expires_at,
        "last_sync": T0 - timedelta(hours=3),
    }
    values.update(fields)
    return AppleToken(**values)  # type: ignore[arg-type]


def vpp(expires_at: datetime | None = None, **fields: object) -> AppleToken:
    return ade(
        expires_at,
        **{
            "kind": CredentialKind.VPP,
            "name": "Contoso Ltd",
            "organization": "Contoso Ltd",
            "state": "valid",
            **fields,
        },
    )


@pytest.mark.parametrize(
    ("expires_at", "expected"),
    [
        (days(200), 200),
        (days(200) - timedelta(seconds=1), 199),
        (T0 + timedelta(hours=5), 0),
        (T0, 0),
        (T0 - timedelta(seconds=1), -1),
        (days(-40), -40),
    ],
)
def test_days_left_floors_like_the_push_certificate(expires_at: datetime, expected: int) -> None:
    token = ade(expires_at)
    certificate = TenantCertificate("a@b.example", "com.apple.mgmt.x", "01", expires_at)
    assert token.days_left(T0) == expected == certificate.days_left(T0)


def test_days_left_without_an_expiry_is_unknown() -> None:
    assert AppleToken("i", CredentialKind.ADE, None, None, None, None).days_left(T0) is None


SYNC_FAILED_2_DAYS_AGO = {"sync_error": "7", "last_sync": days(-2)}
SYNC_FAILED_AN_HOUR_AGO = {"sync_error": "7", "last_sync": T0 - timedelta(hours=1)}
# VPP's lastSyncDateTime is the last attempt: only when the watch first saw it failing counts
VPP_SYNC_FAILING_2_DAYS = {"sync_error": "failed", "last_sync": T0, "failing_since": days(-2)}
VPP_SYNC_RETRIED_UNTIMED = {"sync_error": "failed", "last_sync": days(-2)}


@pytest.mark.parametrize(
    ("token", "problem", "expected"),
    [
        # the push certificate's thresholds, unchanged
        (ade(days(200)), None, Urgency.OK),
        (ade(days(61)), None, Urgency.OK),
        (ade(days(60)), None, Urgency.RENEW_SOON),
        (ade(days(8)), None, Urgency.RENEW_SOON),
        (ade(days(7)), None, Urgency.CRITICAL),
        (ade(T0 + timedelta(minutes=1)), None, Urgency.CRITICAL),
        # expired: renewable however late, so never LAPSED (unlike the push certificate)
        (ade(T0), None, Urgency.EXPIRED),
        (ade(days(-1)), None, Urgency.EXPIRED),
        (ade(days(-400)), None, Urgency.EXPIRED),
        (vpp(days(-400)), None, Urgency.EXPIRED),
        # no expiry from Graph
        (AppleToken("i", CredentialKind.ADE, "n", None, None, None), None, Urgency.MISSING),
        # VPP state: anything but valid is a problem; Graph's "expired" counts as expired
        (vpp(days(200)), None, Urgency.OK),
        (vpp(days(200), state="invalid"), TokenProblem.STATE, Urgency.CRITICAL),
        (vpp(days(200), state="unknown"), TokenProblem.STATE, Urgency.CRITICAL),
        (vpp(days(200), state="assignedToExternalMDM"), TokenProblem.STATE, Urgency.CRITICAL),
        (vpp(days(200), state="duplicateLocationId"), TokenProblem.STATE, Urgency.CRITICAL),
        (vpp(days(200), state="expired"), TokenProblem.STATE, Urgency.EXPIRED),
        (vpp(days(-3), state="expired"), TokenProblem.STATE, Urgency.EXPIRED),
        (vpp(days(3), state="invalid"), TokenProblem.STATE, Urgency.CRITICAL),
        # a failing sync is a problem once it has lasted more than a day
        (ade(days(200), **SYNC_FAILED_2_DAYS_AGO), TokenProblem.SYNC, Urgency.CRITICAL),
        (ade(days(200), **SYNC_FAILED_AN_HOUR_AGO), None, Urgency.OK),
        (ade(days(200), sync_error="7", last_sync=None), TokenProblem.SYNC, Urgency.CRITICAL),
        (ade(days(200), last_sync=days(-30)), None, Urgency.OK),  # no error: just quiet
        (vpp(days(200), **VPP_SYNC_FAILING_2_DAYS), TokenProblem.SYNC, Urgency.CRITICAL),
        (vpp(days(200), **VPP_SYNC_RETRIED_UNTIMED), None, Urgency.OK),
        (vpp(days(30), **SYNC_FAILED_AN_HOUR_AGO), None, Urgency.RENEW_SOON),
        (ade(days(-5), **SYNC_FAILED_2_DAYS_AGO), TokenProblem.SYNC, Urgency.EXPIRED),
    ],
)
def test_problem_and_urgency(
    token: AppleToken, problem: TokenProblem | None, expected: Urgency
) -> None:
    assert token_problem(token, T0) == problem
    assert token_urgency(token, T0) == expected


def test_a_sync_failure_becomes_a_problem_after_one_day() -> None:
    token = ade(days(200), sync_error="7", last_sync=T0)
    assert token_problem(token, T0 + timedelta(days=1)) is None
    assert token_problem(token, T0 + timedelta(days=1, seconds=1)) == TokenProblem.SYNC


def test_a_vpp_sync_failure_is_timed_from_when_it_was_first_seen() -> None:
    failing = vpp(days(200), sync_error="failed", last_sync=T0)
    [first] = time_sync_failures(None, (failing,), T0)
    assert first.failing_since == T0
    retried = replace(failing, last_sync=days(1))  # Intune retried a day later: still failed
    [later] = time_sync_failures((first,), (retried,), days(1))
    assert later.failing_since == T0 and token_problem(later, days(1.05)) is TokenProblem.SYNC
    [healed] = time_sync_failures((later,), (replace(retried, sync_error=None),), days(2))
    assert healed.failing_since is None
    [again] = time_sync_failures((healed,), (retried,), days(3))
    assert again.failing_since == days(3)


@pytest.mark.parametrize(("window", "expected"), [(30, Urgency.OK), (45, Urgency.RENEW_SOON)])
def test_the_reminder_window_is_the_callers(window: int, expected: Urgency) -> None:
    assert token_urgency(ade(days(40)), T0, window_days=window) == expected


@pytest.mark.parametrize(
    "expires_at", [days(200), days(60), days(7), days(3), T0, days(-10), days(-29)]
)
def test_same_scale_as_the_push_certificate_until_its_grace_ends(expires_at: datetime) -> None:
    certificate = TenantCertificate("a@b.example", "com.apple.mgmt.x", "01", expires_at)
    assert token_urgency(ade(expires_at), T0) == urgency(certificate, T0)


def test_kinds() -> None:
    assert [kind.value for kind in CredentialKind] == ["push", "ade", "vpp"]
    assert CredentialKind("vpp").label == "Apps and Books (VPP) token"
    assert "ADE" in CredentialKind.ADE.label
