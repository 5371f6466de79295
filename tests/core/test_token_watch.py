"""What the watch says about ADE and VPP tokens (bot.core.token_watch, bot.core.items), table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.items import fleet_row_of, tenant_items, worst_item
from bot.core.model import TenantCertificate
from bot.core.reminders import CheckState, check_state
from bot.core.status import Urgency
from bot.core.token_watch import (
    NoticeKind,
    due_token_problem,
    due_token_reminder,
    snapshot_json,
    snapshot_tokens,
    token_changes,
    token_notices,
    tokens_state,
)
from bot.core.tokens import AppleToken, CredentialKind, ReadError, TokenProblem, TokenRead
from tests.clock import T0

DAYS = (60, 30, 14, 7, 3, 1)
HEALTHY = AppleToken(
    id="vpp-1",
    kind=CredentialKind.VPP,
    name="Contoso Apps",
    apple_id="apps@contoso.example",
    organization="Contoso Ltd",
    expires_at=T0 + timedelta(days=200, hours=3),
    state="valid",
    last_sync=T0 - timedelta(hours=3),
)


def expiring(days: float, **changes: object) -> AppleToken:
    return replace(HEALTHY, expires_at=T0 + timedelta(days=days), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "threshold", "urgency", "mention"),
    [
        (200, None, None, False),
        (60.5, "60", Urgency.RENEW_SOON, False),
        (29.5, "30", Urgency.RENEW_SOON, False),
        (6.5, "7", Urgency.CRITICAL, True),
        (0.5, "1", Urgency.CRITICAL, True),
        (-0.5, "expired-0", Urgency.EXPIRED, True),
        (-5, "expired-0", Urgency.EXPIRED, True),
        (-8, "expired-7", Urgency.EXPIRED, True),  # on the expiry day, days 7 and 30, not daily
        (-31, "expired-30", Urgency.EXPIRED, True),
        (-400, "expired-30", Urgency.EXPIRED, True),  # then never again: posted once already
    ],
)
def test_reminder_thresholds(
    days: float, threshold: str | None, urgency: Urgency | None, mention: bool
) -> None:
    notice = due_token_reminder(expiring(days), T0, DAYS)
    if threshold is None:
        assert notice is None
        return
    assert notice is not None
    assert (notice.threshold, notice.urgency, notice.mention) == (threshold, urgency, mention)
    assert notice.key.startswith("token_reminder:vpp:vpp-1:") and notice.key.endswith(threshold)
    assert notice.label == f"vpp reminder {threshold}"


NOON = T0.replace(hour=12, minute=0, second=0, microsecond=0)  # an expiry at noon UTC


@pytest.mark.parametrize(
    ("since_expiry", "zone", "threshold"),
    [
        (timedelta(hours=1), "UTC", "expired-0"),
        (timedelta(days=6, hours=11), "UTC", "expired-0"),  # 23:00 on day 6
        (timedelta(days=6, hours=13), "UTC", "expired-7"),  # 01:00 on day 7: calendar days
        (timedelta(days=6, hours=13), "America/New_York", "expired-0"),  # 20:00 there: day 6
        (timedelta(days=29, hours=13), "UTC", "expired-30"),
        (timedelta(days=29, hours=13), "America/New_York", "expired-7"),
        (timedelta(days=3000), "UTC", "expired-30"),  # the last one, whatever the date
    ],
)
def test_expired_reminders_count_calendar_days_in_the_checks_zone(
    since_expiry: timedelta, zone: str, threshold: str
) -> None:
    token = replace(HEALTHY, expires_at=NOON)
    notice = due_token_reminder(token, NOON + since_expiry, DAYS, ZoneInfo(zone))
    assert notice is not None and notice.threshold == threshold


def test_a_renewed_token_starts_the_count_afresh() -> None:
    before = due_token_reminder(expiring(29.5), T0, DAYS)
    after = due_token_reminder(expiring(29.5 + 365), T0 + timedelta(days=365), DAYS)
    assert before is not None and after is not None and before.key != after.key


def test_a_per_kind_threshold_list_is_used() -> None:
    assert due_token_reminder(expiring(45), T0, (90, 45)) is not None
    assert due_token_reminder(expiring(45), T0, (30, 7)) is None


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (HEALTHY, None),
        (replace(HEALTHY, state="invalid"), TokenProblem.STATE),
        (replace(HEALTHY, state="assignedToExternalMDM"), TokenProblem.STATE),
        (expiring(-2, state="expired"), None),  # the reminders say it
        (replace(HEALTHY, state="expired"), TokenProblem.STATE),  # expiry ahead: no reminder
        (replace(HEALTHY, state="expired", expires_at=None), TokenProblem.STATE),
        (replace(HEALTHY, sync_error="failed", last_sync=T0 - timedelta(hours=5)), None),
        (
            replace(HEALTHY, sync_error="failed", failing_since=T0 - timedelta(days=2)),
            TokenProblem.SYNC,
        ),
        (replace(HEALTHY, sync_error="failed", last_sync=T0 - timedelta(days=2)), None),
        (replace(HEALTHY, sync_error="failed", last_sync=None), None),
    ],
)
def test_problems(token: AppleToken, problem: TokenProblem | None) -> None:
    notice = due_token_problem(token, T0, DAYS)
    assert (notice.problem if notice else None) is problem
    if notice is not None:
        assert notice.mention and notice.urgency.rank >= Urgency.CRITICAL.rank


def test_changes_appeared_disappeared_renewed_and_the_first_look() -> None:
    other = replace(HEALTHY, id="vpp-2", name="Fabrikam Apps")
    renewed = replace(HEALTHY, expires_at=HEALTHY.expires_at + timedelta(days=365))  # type: ignore[operator]
    assert token_changes(None, [HEALTHY], T0) == []  # nothing to compare with
    assert token_changes([HEALTHY], [HEALTHY], T0) == []
    found = token_changes([HEALTHY], [renewed, other], T0)
    assert [(n.what, n.token.id) for n in found] == [
        (NoticeKind.RENEWED, "vpp-1"),
        (NoticeKind.APPEARED, "vpp-2"),
    ]
    assert found[0].previous == HEALTHY
    [gone] = token_changes([HEALTHY, other], [other], T0)
    assert (gone.what, gone.token.id, gone.mention) == (NoticeKind.DISAPPEARED, "vpp-1", True)
    shortened = replace(HEALTHY, expires_at=T0 + timedelta(days=10))
    assert token_changes([HEALTHY], [shortened], T0) == []  # not a renewal


def test_a_renewed_token_still_invalid_is_a_new_problem() -> None:
    invalid = replace(HEALTHY, state="invalid")
    renewed = replace(invalid, expires_at=HEALTHY.expires_at + timedelta(days=365))  # type: ignore[operator]
    before, after = due_token_problem(invalid, T0, DAYS), due_token_problem(renewed, T0, DAYS)
    assert before is not None and after is not None and before.key != after.key
    later = due_token_problem(invalid, T0 + timedelta(days=3), DAYS)
    assert later is not None and later.key == before.key  # the same problem: posted once


def test_every_notice_of_one_check_has_its_own_key() -> None:
    broken = expiring(5, id="vpp-3", state="invalid")
    due = token_notices([HEALTHY], [HEALTHY, broken], T0, DAYS)
    assert [n.what for n in due] == [NoticeKind.APPEARED, NoticeKind.PROBLEM, NoticeKind.REMINDER]
    assert len({n.key for n in due}) == 3


@pytest.mark.parametrize(
    ("tokens", "state"),
    [
        ((), CheckState.OK),
        ((HEALTHY,), CheckState.OK),
        ((HEALTHY, expiring(20)), CheckState.ATTENTION),
        ((expiring(-3),), CheckState.ATTENTION),
        ((replace(HEALTHY, state="invalid"),), CheckState.ATTENTION),
    ],
)
def test_check_state_of_one_kind(tokens: tuple[AppleToken, ...], state: CheckState) -> None:
    assert tokens_state(tokens, T0, DAYS) is state


@pytest.mark.parametrize("left", [5, 3, 2.5, 0.5])
def test_tokens_and_the_certificate_share_one_exit_rule_under_small_thresholds(
    left: float,
) -> None:
    """Thresholds all under a week: a token with more days left than the largest threshold
    exits 0 as the certificate does, though its urgency is CRITICAL (7 days or fewer)."""
    small = (3, 1)
    token = replace(expiring(left), kind=CredentialKind.ADE, state=None)
    certificate = TenantCertificate("a@b.example", "topic", "01", token.expires_at)
    days = token.days_left(T0)
    assert days is not None
    expected = CheckState.OK if days > max(small) else CheckState.ATTENTION
    assert tokens_state((token,), T0, small) is expected
    assert check_state(certificate, T0, small) is expected


def test_a_problem_or_expiry_is_attention_whatever_the_thresholds() -> None:
    small = (3, 1)
    assert tokens_state((replace(expiring(5), state="invalid"),), T0, small) is CheckState.ATTENTION
    assert tokens_state((expiring(-0.1),), T0, small) is CheckState.ATTENTION
    assert tokens_state((replace(HEALTHY, state="expired"),), T0, small) is CheckState.ATTENTION
    assert tokens_state((replace(HEALTHY, expires_at=None),), T0, small) is CheckState.ATTENTION


def test_the_snapshot_round_trips_and_garbage_reads_as_none() -> None:
    tokens = (HEALTHY, expiring(3, id="a-first", state=None, last_sync=None))
    back = snapshot_tokens(CredentialKind.VPP, snapshot_json(tokens))
    assert back is not None and sorted(back, key=lambda t: t.id) == sorted(
        tokens, key=lambda t: t.id
    )
    assert snapshot_tokens(CredentialKind.VPP, None) is None
    assert snapshot_tokens(CredentialKind.VPP, {"tokens": "x"}) is None
    assert snapshot_tokens(CredentialKind.VPP, {"tokens": [{"id": 3}, "x"]}) == ()


def test_items_are_sorted_worst_first_with_unreadable_kinds_on_top() -> None:
    ade = TokenRead(CredentialKind.ADE, error=ReadError("forbidden", "403"))
    vpp = TokenRead(CredentialKind.VPP, (HEALTHY, expiring(5, id="soon", name="Soon")))
    items = tenant_items(None, None, [ade, vpp], T0, lambda kind: 60, push=False)
    assert [(i.kind, i.name) for i in items] == [
        (CredentialKind.ADE, CredentialKind.ADE.label),
        (CredentialKind.VPP, "Soon"),
        (CredentialKind.VPP, "Contoso Apps"),
    ]
    worst = worst_item(items)
    assert worst is not None and worst.name == "Soon" and worst.urgency is Urgency.CRITICAL
    row = fleet_row_of("contoso", "Contoso", None, items)
    assert (row.kind, row.name, row.days_left, row.unread) == (
        CredentialKind.VPP,
        "Soon",
        5,
        (CredentialKind.ADE,),
    )
    assert row.owner == "apps@contoso.example" and not row.failed


def test_a_vpp_items_note_says_since_when_the_sync_has_been_failing() -> None:
    retried = replace(
        HEALTHY, sync_error="failed", last_sync=T0, failing_since=T0 - timedelta(days=3)
    )
    [item] = tenant_items(
        None, None, [TokenRead(CredentialKind.VPP, (retried,))], T0, lambda k: 60
    )[1:]
    assert item.note == f"sync with Apple failing since {T0 - timedelta(days=3):%Y-%m-%d}"


def test_a_fleet_row_fails_when_nothing_could_be_read() -> None:
    ade = TokenRead(CredentialKind.ADE, error=ReadError("forbidden", "no ADE"))
    items = tenant_items(None, None, [ade], T0, lambda kind: 60, push=False)
    assert fleet_row_of("t", "T", None, items).error == "no ADE"
    items = tenant_items(None, "push refused", [], T0, lambda kind: 60)
    assert fleet_row_of("t", "T", None, items).error == "push refused"


def test_a_fleet_row_whose_certificate_failed_still_shows_the_worst_token() -> None:
    vpp = TokenRead(CredentialKind.VPP, (HEALTHY, expiring(5, id="soon", name="Soon")))
    items = tenant_items(None, "push refused", [vpp], T0, lambda kind: 60)
    row = fleet_row_of("t", "T", None, items)
    assert row.failed and row.error == "push refused"
    assert (row.kind, row.name, row.days_left) == (CredentialKind.VPP, "Soon", 5)


def test_a_fleet_row_with_nothing_watched_in_existence_has_no_kind() -> None:
    items = tenant_items(None, None, [TokenRead(CredentialKind.ADE)], T0, lambda k: 60, push=False)
    row = fleet_row_of("t", "T", None, items)
    assert not row.failed and row.kind is None and row.state is Urgency.OK
