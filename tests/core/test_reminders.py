"""Reminder thresholds, once-keys, tone, change detection and the check state (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.model import TenantCertificate
from bot.core.reminders import (
    ChangeKind,
    CheckState,
    Origin,
    change_origin,
    check_state,
    detect_change,
    due_reminder,
    reminder_key,
)
from bot.core.requests import ApplyResult, Status
from bot.core.status import Urgency
from tests.clock import T0
from tests.core.request_fixtures import CURRENT, NOT_AFTER, make
from tests.core.request_fixtures import TOPIC as REQUEST_TOPIC

# The daily check's hour on the day after the suite's anchor: grace days count calendar dates,
# so the tables below are written for a check at 09:00 UTC, whatever hour T0 is.
NOW = datetime.combine((T0 + timedelta(days=1)).date(), time(9), tzinfo=UTC)
DAYS = (60, 30, 14, 7, 3, 1)
TOPIC = "com.apple.mgmt.External.2f42b322-d7c9-4734-8e2e-eeadadd36f20"
APPLE_ID = "mdm-admin@contoso.example"


def cert(days: float | None = 100, **kw: object) -> TenantCertificate:
    """A certificate expiring ``days`` after NOW (None: no certificate uploaded)."""
    fields: dict[str, object] = {
        "apple_id": APPLE_ID,
        "topic": TOPIC,
        "serial": "0B7002EFEA6BA6D0",
        "expires_at": None if days is None else NOW + timedelta(days=days),
    }
    if days is None:
        fields.update(topic=None, serial=None)
    fields.update(kw)
    return TenantCertificate(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "threshold", "state", "mention"),
    [
        (400, None, Urgency.OK, False),
        (61.2, None, Urgency.OK, False),  # 61 whole days left: outside the window
        (60.9, "60", Urgency.RENEW_SOON, False),  # 60 whole days: the 60-day reminder
        (60.5, "60", Urgency.RENEW_SOON, False),
        (45, "60", Urgency.RENEW_SOON, False),
        (30, "30", Urgency.RENEW_SOON, False),
        (29.9, "30", Urgency.RENEW_SOON, False),
        (14.2, "14", Urgency.RENEW_SOON, False),
        (8, "14", Urgency.RENEW_SOON, False),
        (7.5, "7", Urgency.CRITICAL, True),
        (5, "7", Urgency.CRITICAL, True),
        (3, "3", Urgency.CRITICAL, True),
        (1.9, "1", Urgency.CRITICAL, True),
        (0.2, "1", Urgency.CRITICAL, True),  # less than a day left is still the 1-day reminder
        (-0.1, "expired-0", Urgency.EXPIRED, True),
        (-1.5, "expired-2", Urgency.EXPIRED, True),  # 21:00 two calendar days ago
        (-29.5, "expired-30", Urgency.EXPIRED, True),
        (-30.5, "lapsed", Urgency.LAPSED, True),
        (-400, "lapsed", Urgency.LAPSED, True),
        (None, None, Urgency.MISSING, False),
    ],
)
def test_the_due_threshold(
    days: float | None, threshold: str | None, state: Urgency, mention: bool
) -> None:
    reminder = due_reminder(cert(days), NOW, DAYS)
    if threshold is None:
        assert reminder is None
        return
    assert reminder is not None
    assert (reminder.threshold, reminder.urgency, reminder.mention) == (threshold, state, mention)
    assert reminder.key == reminder_key(cert(days), threshold)


def test_the_grace_days_count_down_while_expired() -> None:
    grace = [due_reminder(cert(-d - 0.5), NOW, DAYS) for d in (0, 1, 29)]
    assert [r.grace_days_left for r in grace if r] == [30, 29, 1]
    assert [r.days_expired for r in grace if r] == [0, 1, 29]


def simulate(certificate: TenantCertificate, start: datetime, days: int) -> list[str]:
    """Check daily at 09:00 (and again at 15:00) with a once-only store; return what was posted."""
    marked: set[str] = set()
    posted: list[str] = []
    for n in range(days):
        for hour in (0, 6):
            reminder = due_reminder(certificate, start + timedelta(days=n, hours=hour), DAYS)
            if reminder is not None and reminder.key not in marked:
                marked.add(reminder.key)
                posted.append(reminder.threshold)
    return posted


def test_each_threshold_fires_exactly_once_over_a_certificates_life() -> None:
    expiring = cert(0, expires_at=NOW + timedelta(days=365, hours=4))
    posted = simulate(expiring, NOW, 365 + 40)
    # one alarm per calendar day of the grace period: the expiry day, then days 1 to 30
    expected = ["60", "30", "14", "7", "3", "1"] + [f"expired-{n}" for n in range(31)]
    assert posted == [*expected, "lapsed"]


def test_a_renewed_certificate_starts_the_count_afresh() -> None:
    old = cert(59.5)
    renewed = cert(59.5, serial="1C2D3E4F50617283", expires_at=NOW + timedelta(days=59.5))
    assert due_reminder(old, NOW, DAYS) is not None
    assert due_reminder(renewed, NOW, DAYS) is not None
    old_key = due_reminder(old, NOW, DAYS).key  # type: ignore[union-attr]
    new_key = due_reminder(renewed, NOW, DAYS).key  # type: ignore[union-attr]
    assert old_key != new_key
    expiry = NOW + timedelta(days=59.5)
    assert new_key == f"reminder:1C2D3E4F50617283:{expiry:%Y%m%dT%H%M%S}Z:60"


def test_a_bot_that_was_down_posts_only_the_most_urgent_threshold() -> None:
    assert simulate(cert(5.5), NOW, 7) == ["7", "3", "1", "expired-1"]


def test_custom_thresholds_are_honoured() -> None:
    thresholds = [
        r.threshold if (r := due_reminder(cert(d), NOW, (30, 10))) else None
        for d in (40.5, 29.5, 10.5, 9.5, 0.5)
    ]
    assert thresholds == [None, "30", "10", "10", "10"]


# --- changes ---------------------------------------------------------------------------------------

LATER = NOW + timedelta(days=365)


@pytest.mark.parametrize(
    ("before", "after", "kind", "fields"),
    [
        (None, cert(), None, ()),
        (cert(), cert(), None, ()),
        (cert(), cert(last_modified=NOW, upload_status="x"), None, ()),
        (cert(), cert(apple_id=APPLE_ID.upper()), None, ()),
        (cert(None), cert(None), None, ()),
        (
            cert(),
            cert(serial="1C2D3E4F50617283", expires_at=LATER),
            ChangeKind.RENEWED,
            ("serial", "expires_at"),
        ),
        (cert(), cert(expires_at=NOW + timedelta(days=5)), ChangeKind.REPLACED, ("expires_at",)),
        (
            cert(),
            cert(topic="com.apple.mgmt.External.other", serial="99", expires_at=LATER),
            ChangeKind.TOPIC_CHANGED,
            ("topic", "serial", "expires_at"),
        ),
        (cert(), cert(None), ChangeKind.REMOVED, ("topic", "serial", "expires_at")),
        (cert(None), cert(), ChangeKind.ADDED, ("topic", "serial", "expires_at")),
        (
            cert(),
            cert(apple_id="other@contoso.example"),
            ChangeKind.APPLE_ID_CHANGED,
            ("apple_id",),
        ),
    ],
)
def test_changes_are_classified(
    before: TenantCertificate | None,
    after: TenantCertificate,
    kind: ChangeKind | None,
    fields: tuple[str, ...],
) -> None:
    change = detect_change(before, after)
    if kind is None:
        assert change is None
        return
    assert change is not None
    assert (change.kind, change.fields) == (kind, fields)
    assert change.critical == (kind in {ChangeKind.TOPIC_CHANGED, ChangeKind.REMOVED})


def test_a_change_has_one_key_per_transition() -> None:
    a, b = cert(), cert(serial="1C2D3E4F50617283", expires_at=LATER)
    first, again, back = detect_change(a, b), detect_change(a, b), detect_change(b, a)
    assert first is not None and again is not None and back is not None
    assert first.key == again.key
    assert first.key != back.key
    assert first.key.startswith("change:") and APPLE_ID not in first.key


def test_the_bots_own_renewal_is_told_from_an_outside_change() -> None:
    """The workflow moves the snapshot after its own upload; when that write was lost, or a
    check read Graph just before the upload landed, the watch must not cry "outside change"."""
    old, new = CURRENT, cert(serial="1C2D3E4F5A6B7C8D", expires_at=NOT_AFTER, topic=CURRENT.topic)
    applied = [
        make(
            status=Status.APPLIED, result=ApplyResult(REQUEST_TOPIC, "1C2D3E4F5A6B7C8D", NOT_AFTER)
        )
    ]
    elsewhere = cert(serial="99AA", expires_at=NOT_AFTER, topic=CURRENT.topic)
    cases = [
        (detect_change(old, new), applied, Origin.BOT),  # snapshot update lost
        (detect_change(new, old), applied, Origin.STALE),  # read raced the upload
        (detect_change(old, elsewhere), applied, Origin.OUTSIDE),
        (detect_change(old, new), [], Origin.OUTSIDE),
    ]
    for change, requests, origin in cases:
        assert change is not None
        assert change_origin(change, requests) is origin


# --- check state (exit codes) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate", "days", "state"),
    [
        (cert(61), DAYS, CheckState.OK),
        (cert(60.5), DAYS, CheckState.ATTENTION),  # 60 whole days: inside the window
        (cert(2), DAYS, CheckState.ATTENTION),
        (cert(-3), DAYS, CheckState.ATTENTION),
        (cert(-300), DAYS, CheckState.ATTENTION),
        (cert(None), DAYS, CheckState.ATTENTION),
        (cert(5), (3,), CheckState.OK),  # more days left than the largest threshold
        (replace(cert(100), topic=None), DAYS, CheckState.ATTENTION),
    ],
)
def test_the_check_state(certificate: TenantCertificate, days: tuple[int, ...], state: CheckState):
    assert check_state(certificate, NOW, days) is state


def test_check_states_are_the_exit_codes_cron_and_monitoring_read() -> None:
    assert [int(s) for s in (CheckState.OK, CheckState.ATTENTION, CheckState.FAILED)] == [0, 1, 2]


def test_no_grace_day_alarm_is_skipped_or_doubled_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expired = cert(0, expires_at=datetime(2026, 3, 20, 7, 30, tzinfo=UTC))
    labels = []
    for day in range(21, 31):  # daily at 09:00 Berlin; clocks spring forward on 29 March
        at = datetime(2026, 3, day, 9, 0, tzinfo=berlin)
        reminder = due_reminder(expired, at.astimezone(UTC), DAYS, berlin)
        assert reminder is not None
        labels.append(reminder.threshold)
    assert labels == [f"expired-{n}" for n in range(1, 11)]
