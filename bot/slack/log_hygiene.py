"""Slack's libraries log request bodies: keep them out of the bot's log above DEBUG.

Bolt logs a failed signature check with the whole body (``RequestVerification``), an unhandled
request with most of its payload, and slack_sdk logs the URL it retries (for ``respond()``, the
``response_url``, a credential). Their loggers are created all over both packages (one per class,
some per listener), so rather than chase each one, a log-record factory trims every record from a
``slack_bolt``/``slack_sdk`` logger to its opening words (``Unhandled request``, ``Invalid request
signature detected``) unless the bot logs at DEBUG: ``LOG_LEVEL=DEBUG`` keeps them whole, on
purpose.
"""

from __future__ import annotations

import logging
import re
from typing import Any

LIBRARY_LOGGERS = ("slack_bolt", "slack_sdk")
MAX_WORDS = 120  # characters kept from a library's log line
_CUT = re.compile(r"[({:\n\[]")


def opening_words(message: str) -> str:
    """What a library line says before its data: up to the first bracket, colon or line break."""
    return _CUT.split(message, maxsplit=1)[0].strip()[:MAX_WORDS] or "(details withheld)"


class _TrimmingFactory:
    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.base(*args, **kwargs)
        if record.name.startswith(LIBRARY_LOGGERS) and not _debugging():
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # arguments that do not fit the format
                message = str(record.msg)
            record.msg = f"{opening_words(message)} (details at LOG_LEVEL=DEBUG)"
            record.args = None
        return record


def _debugging() -> bool:
    """LOG_LEVEL=DEBUG (the root logger's level): the operator asked for every detail."""
    return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


def trim_library_logs() -> None:
    """Install the trimming factory once per process (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _TrimmingFactory):
        logging.setLogRecordFactory(_TrimmingFactory(current))
