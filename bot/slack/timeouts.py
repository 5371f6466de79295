"""Telling a Slack Web API call that timed out from one that could not connect."""

from __future__ import annotations


def timed_out(error: BaseException | None) -> bool:
    """True for urllib's ways of saying a host stayed silent (``<urlopen error timed out>``)."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, TimeoutError) or isinstance(error, TimeoutError)
