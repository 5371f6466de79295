"""What the watch should say about ADE and Apps and Books (VPP) tokens, decided as values (pure).

Every notice carries a key that the store marks once, ever (per tenant), as for the push
certificate:

- reminders at the kind's thresholds before expiry (the smallest threshold reached, so a bot that
  was down posts the most urgent one, not a backlog), then, once expired, on the days in
  ``EXPIRED_ON_DAYS`` after expiry (calendar days in the check's time zone, as the push
  certificate's ``expired_day``), then never again: a token can be renewed however late, but one
  superseded and left in Intune must not remind the channel forever (status and ``check`` keep
  showing it): ``token_reminder:<kind>:<id>:<expiry>:<t>``;
- a problem: a ``state`` other than ``valid`` (``expired`` is left to the reminders once the
  expiry has passed; with an expiry ahead or unknown no reminder would say it) or a sync
  failing for more than a day: ``token_problem:<kind>:<id>:<expiry>:state:<state>`` and
  ``token_problem:<kind>:<id>:<expiry>:sync:<failing since>`` (ADE: the last successful sync;
  VPP: when the watch first saw it failing, kept in the snapshot as ``sync_failing_since``). The
  expiry is in the key as in reminder keys: a renewed token still invalid is reported again;
- a change seen since the last check (``previous`` is the stored snapshot; ``None`` on the first
  look, which reports nothing): a token that appeared, disappeared or was renewed (same id, later
  expiry) outside apns-bot: ``token_change:<kind>:<id>:<what>:<expiry>[:<new expiry>]``; a
  renewal under another organisation or Apple ID mentions the approvers (``owner_changed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from bot.core.reminders import MENTION_FROM_DAYS, CheckState, expiry_state, stamp, window_days
from bot.core.requests import ChangeRequest, JSONValue
from bot.core.status import Urgency
from bot.core.token_requests import same_instant
from bot.core.tokens import (
    AppleToken,
    CredentialKind,
    TokenProblem,
    sync_failing_since,
    token_problem,
    token_urgency,
)

# Days after expiry with a reminder: the day itself, a week and a month later (the push
# certificate's grace period), then none. The last one says it is the last.
EXPIRED_ON_DAYS = (0, 7, 30)


class NoticeKind(StrEnum):
    REMINDER = "reminder"
    PROBLEM = "problem"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    RENEWED = "renewed"


@dataclass(frozen=True)
class TokenNotice:
    """One thing to post about one token, once (``key``)."""

    what: NoticeKind
    token: AppleToken
    key: str
    urgency: Urgency
    days_left: int | None
    threshold: str | None = None  # reminders: "30", "expired-0", "expired-7", ...
    problem: TokenProblem | None = None
    previous: AppleToken | None = None  # renewed: the token as last seen
    by_request: str | None = None  # renewed by this apns-bot request: its new expiry now shows
    mention: bool = False  # mention the approvers
    owner_changed: tuple[str, ...] = ()  # renewed: "organization" and/or "apple_id" differ

    @property
    def last(self) -> bool:
        """The last reminder about this expired token (``EXPIRED_ON_DAYS``)."""
        return self.threshold == f"expired-{EXPIRED_ON_DAYS[-1]}"

    @property
    def label(self) -> str:
        """What ``CheckResult.posted`` says, e.g. ``ade reminder 30`` or ``vpp renewed``."""
        detail = self.threshold or (self.problem.value if self.problem else None)
        return " ".join(p for p in (self.token.kind.value, self.what.value, detail) if p)


def _expiry(token: AppleToken | None) -> str:
    return stamp(token.expires_at) if token is not None and token.expires_at else "-"


def expired_days(token: AppleToken, now: datetime, zone: tzinfo) -> int:
    """Which day after expiry ``now`` is, by calendar date in ``zone`` (0 before and on the day
    of expiry), as ``bot.core.reminders.expired_day`` counts for the push certificate."""
    if token.expires_at is None or token.expires_at > now:
        return 0
    return (now.astimezone(zone).date() - token.expires_at.astimezone(zone).date()).days


def due_token_reminder(
    token: AppleToken, now: datetime, remind_days: Sequence[int], zone: tzinfo = UTC
) -> TokenNotice | None:
    """The reminder due for ``token`` at ``now`` (whether it was posted is the store's business).
    Once expired, the latest of ``EXPIRED_ON_DAYS`` reached: a bot that was down posts one."""
    days = token.days_left(now)
    if token.expires_at is None or days is None:
        return None
    urgency = token_urgency(token, now, window_days(remind_days))
    if token.expires_at <= now:
        day = expired_days(token, now, zone)
        threshold = f"expired-{max(d for d in EXPIRED_ON_DAYS if d <= day)}"
    else:
        reached = [t for t in remind_days if days <= t]
        if not reached:
            return None
        threshold = str(min(reached))
    key = f"token_reminder:{token.kind.value}:{token.id}:{_expiry(token)}:{threshold}"
    return TokenNotice(
        NoticeKind.REMINDER,
        token,
        key,
        urgency,
        days,
        threshold=threshold,
        mention=days <= MENTION_FROM_DAYS,
    )


def due_token_problem(
    token: AppleToken, now: datetime, remind_days: Sequence[int]
) -> TokenNotice | None:
    problem = token_problem(token, now)
    expired = token.expires_at is not None and token.expires_at <= now
    if problem is None or (problem is TokenProblem.STATE and token.state == "expired" and expired):
        return None  # Graph's "expired" for a token past its expiry: the reminders say it
    if problem is TokenProblem.STATE:
        detail = f"state:{token.state}"
    else:
        since = sync_failing_since(token)
        detail = f"sync:{stamp(since) if since else '-'}"
    key = f"token_problem:{token.kind.value}:{token.id}:{_expiry(token)}:{detail}"
    urgency = token_urgency(token, now, window_days(remind_days))
    days = token.days_left(now)
    return TokenNotice(NoticeKind.PROBLEM, token, key, urgency, days, problem=problem, mention=True)


def token_changes(
    previous: Sequence[AppleToken] | None, current: Sequence[AppleToken], now: datetime
) -> list[TokenNotice]:
    """Tokens that appeared, disappeared or were renewed since ``previous`` (None: first look)."""
    if previous is None:
        return []
    before = {t.id: t for t in previous}
    after = {t.id: t for t in current}
    found: list[TokenNotice] = []
    for token_id, token in after.items():
        old = before.get(token_id)
        kind = token.kind.value
        if old is None:
            key = f"token_change:{kind}:{token_id}:appeared:{_expiry(token)}"
            found.append(_change(NoticeKind.APPEARED, token, key, now))
        elif (
            token.expires_at is not None
            and old.expires_at is not None
            and token.expires_at > old.expires_at
        ):
            key = f"token_change:{kind}:{token_id}:renewed:{_expiry(old)}:{_expiry(token)}"
            moved = owner_changes(old, token)
            renewed = _change(
                NoticeKind.RENEWED, token, key, now, previous=old, mention=bool(moved)
            )
            found.append(replace(renewed, owner_changed=moved))
    for token_id, old in before.items():
        if token_id not in after:
            key = f"token_change:{old.kind.value}:{token_id}:disappeared:{_expiry(old)}"
            found.append(_change(NoticeKind.DISAPPEARED, old, key, now, mention=True))
    return found


def owner_changes(before: AppleToken, after: AppleToken) -> tuple[str, ...]:
    """Which of the organisation and the Apple ID differ (ignoring case): a VPP token of another
    organisation moves the app licences away (DOMAIN.md), an ADE token under another Apple ID
    may belong to another Apple Business Manager account."""
    return tuple(
        field
        for field in ("organization", "apple_id")
        if (getattr(before, field) or "").casefold() != (getattr(after, field) or "").casefold()
    )


def _change(
    what: NoticeKind,
    token: AppleToken,
    key: str,
    now: datetime,
    *,
    previous: AppleToken | None = None,
    mention: bool = False,
) -> TokenNotice:
    urgency = token_urgency(token, now)
    return TokenNotice(
        what, token, key, urgency, token.days_left(now), previous=previous, mention=mention
    )


def own_renewal(notice: TokenNotice, applied: Sequence[ChangeRequest]) -> ChangeRequest | None:
    """The applied token request (newest first) whose upload ``notice`` (a renewal) is, if any:
    VPP the token now expires on the file's ``expDate``; ADE (whose file's expiry is unknown) the
    request was made against the expiry the token had before this renewal."""
    if notice.what is not NoticeKind.RENEWED:
        return None
    token = notice.token
    for request in applied:
        change = request.token
        if change is None or change.kind is not token.kind or change.token_id != token.id:
            continue
        if change.kind is CredentialKind.VPP:
            if same_instant(token.expires_at, change.new_expiry):
                return request
        elif notice.previous is not None and same_instant(
            notice.previous.expires_at, change.current_expiry
        ):
            return request
    return None


def token_notices(
    previous: Sequence[AppleToken] | None,
    current: Sequence[AppleToken],
    now: datetime,
    remind_days: Sequence[int],
    zone: tzinfo = UTC,
) -> list[TokenNotice]:
    """Everything due for one kind of one tenant: changes first, then problems and reminders."""
    due: list[TokenNotice] = token_changes(previous, current, now)
    for token in current:
        for notice in (
            due_token_problem(token, now, remind_days),
            due_token_reminder(token, now, remind_days, zone),
        ):
            if notice is not None:
                due.append(notice)
    return due


def tokens_state(
    tokens: Sequence[AppleToken], now: datetime, remind_days: Sequence[int]
) -> CheckState:
    """``apns-bot check``'s exit code for one kind that was read: 1 when any token is inside the
    window (the certificate's rule, ``expiry_state``), expired (or Graph says so), has no
    expiry or has a problem; 0 otherwise (no token at all is fine: not every tenant enrolls
    through ADE or buys apps)."""

    def state(token: AppleToken) -> CheckState:
        if token.state == "expired" or token_problem(token, now) is not None:
            return CheckState.ATTENTION
        return expiry_state(token.expires_at, now, remind_days)

    return max((state(t) for t in tokens), default=CheckState.OK)


# --- the per-kind snapshot the watch keeps in the store's tenant state ---------------------------


def snapshot_json(tokens: Sequence[AppleToken]) -> dict[str, JSONValue]:
    """The tokens as last seen (no secret: Graph never returns the token itself)."""

    def one(token: AppleToken) -> dict[str, JSONValue]:
        return {
            "id": token.id,
            "name": token.name,
            "apple_id": token.apple_id,
            "organization": token.organization,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            "state": token.state,
            "last_sync": token.last_sync.isoformat() if token.last_sync else None,
            "sync_error": token.sync_error,
            "sync_failing_since": token.failing_since.isoformat() if token.failing_since else None,
        }

    return {"tokens": [one(t) for t in sorted(tokens, key=lambda t: t.id)]}


def snapshot_tokens(kind: CredentialKind, value: JSONValue) -> tuple[AppleToken, ...] | None:
    """The stored snapshot, or None when there is none (or it cannot be read)."""
    items = value.get("tokens") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return None
    tokens: list[AppleToken] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        tokens.append(
            AppleToken(
                id=str(item["id"]),
                kind=kind,
                name=_text(item.get("name")),
                apple_id=_text(item.get("apple_id")),
                organization=_text(item.get("organization")),
                expires_at=_moment(item.get("expires_at")),
                state=_text(item.get("state")),
                last_sync=_moment(item.get("last_sync")),
                sync_error=_text(item.get("sync_error")),
                failing_since=_moment(item.get("sync_failing_since")),
            )
        )
    return tuple(tokens)


def _text(value: JSONValue | None) -> str | None:
    return value if isinstance(value, str) else None


def _moment(value: JSONValue | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
