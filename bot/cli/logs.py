"""The CLI's logging: one stderr handler that shows the bot's own lines and keeps the libraries'
plumbing (retry notes, connection pools, token requests) at DEBUG."""

from __future__ import annotations

import logging
import sys

# Libraries whose log lines are their own plumbing (retries, connection pools, token requests):
# at the default level the CLI shows only the bot's lines; LOG_LEVEL=DEBUG shows these too.
CHATTY_LIBRARIES = ("slack_sdk", "slack_bolt", "urllib3", "msal", "httpx", "httpcore", "requests")
# ... and those whose errors are failed calls the bot reports itself, as one line naming the
# host. Other library errors (a listener that crashed in Bolt, a Socket Mode connection that keeps
# failing) stay visible.
REPORTED_BY_THE_BOT = ("slack_sdk.web", "urllib3", "msal", "httpx", "httpcore", "requests")


class LibraryChatter(logging.Filter):
    """Demotes the chatty libraries' records to DEBUG, then lets through only what the root
    logger's level admits: their retry notes never precede the bot's own clear message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] not in CHATTY_LIBRARIES or record.levelno >= logging.CRITICAL:
            return True
        reported = record.name.startswith(REPORTED_BY_THE_BOT)
        if record.levelno >= logging.ERROR and not reported:
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
