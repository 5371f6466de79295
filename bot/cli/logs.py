"""The CLI's logging: one stderr handler that shows the bot's own lines and keeps the libraries'
plumbing (retry notes, connection pools, token requests) at DEBUG."""

from __future__ import annotations

import logging
import sys

# Library loggers whose lines are plumbing of calls the bot reports itself, as one line naming the
# host: retry notes, connection pools, token requests, a failed Web API call. At the default level
# the CLI shows only the bot's lines; LOG_LEVEL=DEBUG shows these too. Bolt's own warnings (an
# unhandled request, a listener that never acknowledged) and Socket Mode's (a handshake a proxy
# refused) are not plumbing: they stay visible.
PLUMBING = (
    "slack_sdk.web",
    "slack_sdk.http_retry",
    "urllib3",
    "msal",
    "httpx",
    "httpcore",
    "requests",
)


class LibraryChatter(logging.Filter):
    """Demotes the plumbing loggers' records to DEBUG, then lets through only what the root
    logger's level admits: their retry notes never precede the bot's own clear message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(PLUMBING) or record.levelno >= logging.CRITICAL:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def configure_logging(level: str) -> None:
    """One stderr handler that keeps library chatter out (as ``logging.basicConfig``, it leaves a
    root logger that already has handlers alone: an embedding program or a test harness)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(LibraryChatter())
        root.addHandler(handler)
    root.setLevel(level)
