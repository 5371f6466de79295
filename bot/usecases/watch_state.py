"""What the expiry watch keeps per tenant between checks (the store's ``tenant_state``), typed.

``check_failing``: since when the checks fail, and why. ``retry:<notice key>``: a notice marked as
posted once whose post is in flight or was refused, so a later check posts it. Both are stored as
small JSON objects; these classes read and write them (the JSON shapes are what replicas of every
version share, so they do not change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.core.requests import JSONValue

FAILING_KEY = "check_failing"  # tenant_state: {"since": iso time, "error": user-safe message}
RETRY_PREFIX = "retry:"  # tenant_state: a marked notice whose post Slack refused
POSTING_LEASE = timedelta(minutes=10)  # a post in flight longer than this was lost to a crash


class Delivery(Enum):
    """What posting a notice once came to."""

    POSTED = "posted"
    ALREADY = "already"  # posted before (or another replica is posting it)
    REFUSED = "refused"  # Slack refused; the next check tries again


@dataclass(frozen=True)
class FailingCheck:
    since: datetime
    error: str

    def to_json(self) -> dict[str, JSONValue]:
        return {"since": self.since.isoformat(), "error": self.error}


def failing_since(value: object) -> FailingCheck | None:
    """The stored "check failing" state, or None."""
    if not isinstance(value, dict):
        return None
    try:
        since = datetime.fromisoformat(str(value.get("since")))
    except ValueError:
        return None
    return FailingCheck(since, str(value.get("error") or ""))


@dataclass(frozen=True)
class RetryMark:
    """A notice still to post: first tried at ``since``; a caller is posting it since ``posting``,
    or Slack refused it at ``refused``."""

    since: datetime
    posting: datetime | None = None
    refused: datetime | None = None

    @classmethod
    def read(cls, value: JSONValue, written: datetime) -> RetryMark:
        """The mark as stored; a field that cannot be read counts as absent (``since``: when the
        mark was written)."""
        fields = value if isinstance(value, dict) else {}
        return cls(
            since=_instant(fields.get("since")) or written,
            posting=_instant(fields.get("posting")),
            refused=_instant(fields.get("refused")),
        )

    def in_flight(self, now: datetime) -> bool:
        """Left by a caller still posting (not by a refusal or a crash long ago)."""
        return self.posting is not None and now - self.posting < POSTING_LEASE

    def to_json(self) -> dict[str, JSONValue]:
        value: dict[str, JSONValue] = {}
        if self.posting is not None:
            value["posting"] = self.posting.isoformat()
        if self.refused is not None:
            value["refused"] = self.refused.isoformat()
        value["since"] = self.since.isoformat()
        return value


def _instant(value: JSONValue | None) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
