"""``outcome_of``: run a use case for a person and turn whatever goes wrong into their answer.

Every listener's follow-up ends the same way: the person who typed or clicked hears back, even
when the work failed. An ``ApnsBotError`` carries a sentence meant for them (``refused`` renders
it); anything else is a bug, logged with a reference (``bot.errors.internal_error``) whose
sentence ``failed`` renders, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.errors import ApnsBotError, internal_error

T = TypeVar("T")


def outcome_of(
    what: str,
    work: Callable[[], T],
    *,
    failed: Callable[[str], T],
    refused: Callable[[ApnsBotError], T] | None = None,
) -> T:
    """``work()``, or the answer for what went wrong ``while {what}``. Without ``refused``, an
    ``ApnsBotError`` counts as unexpected too."""
    try:
        return work()
    except ApnsBotError as exc:
        if refused is not None:
            return refused(exc)
        return failed(internal_error(what))
    except Exception:  # noqa: BLE001 - the person must hear back, never a traceback
        return failed(internal_error(what))
