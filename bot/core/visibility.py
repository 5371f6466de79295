"""Who may see a tenant: its certificate, CSR, requests and history.

Its approvers (users, and members of its approver groups), anyone acting from the tenant's own
channel (they are shown all of it there anyway), and its viewers (``APNS_VIEWERS`` / ``viewers``:
users and groups). Nobody else, whatever they type or click. The CLI, run by operators on the
host, is not asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Audience:
    """Who a tenant is shown to, from its settings."""

    channel: str
    users: frozenset[str]  # approver and viewer user ids
    groups: tuple[str, ...]  # approver and viewer user-group ids

    @classmethod
    def of(cls, channel: str, approvers: Iterable[str], viewers: Iterable[str]) -> Audience:
        ids = (*approvers, *viewers)
        return cls(
            channel=channel,
            users=frozenset(i for i in ids if not i.startswith("S")),
            groups=tuple(dict.fromkeys(i for i in ids if i.startswith("S"))),
        )


def may_see(
    audience: Audience,
    user_id: str,
    channel_id: str | None,
    in_group: Callable[[str, str], bool],
) -> bool:
    """``in_group(group, user)`` answers membership (asked only when the cheaper rules fail)."""
    if not user_id:
        return False
    if channel_id and audience.channel and channel_id == audience.channel:
        return True
    if user_id in audience.users:
        return True
    return any(in_group(group, user_id) for group in audience.groups)
