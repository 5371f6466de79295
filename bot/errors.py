"""One exception tree for the whole bot.

Every error carries a ``user_message``: text that is safe to show to a person in Slack or on a
terminal (no secrets, no certificate bodies, no tracebacks). Listeners and the CLI render only that.
"""

from __future__ import annotations

import logging
import secrets

log = logging.getLogger(__name__)


class ApnsBotError(Exception):
    """Root of every error apns-bot raises on purpose."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ConfigError(ApnsBotError):
    """The configuration is incomplete or malformed; ``problems`` lists every key at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"apns-bot is not configured correctly:\n{lines}\n"
            "Set these in .env (copy .env.example to start) or in the environment."
        )


class UsageError(ApnsBotError):
    """A command was called with options that do not go together."""


class FileCheckError(ApnsBotError):
    """An uploaded file was refused before any check could run; ``code`` is its public problem
    code (``--json`` prints it as the error's code)."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(user_message)
        self.code = code


class CertificateError(FileCheckError):
    """An uploaded file could not be read as a push certificate at all."""


class TokenFileError(FileCheckError):
    """An uploaded file could not be read as an ADE server token or an Apps and Books (VPP) token;
    ``code`` is a public pre-flight code (``bot.core.token_checks.CODES``)."""


class AuthError(ApnsBotError):
    """Signing in to Microsoft Entra ID failed (quotes the AADSTS description when there is one)."""

    def __init__(self, user_message: str, *, error: str | None = None) -> None:
        super().__init__(user_message)
        self.error = error


class GraphError(ApnsBotError):
    """Microsoft Graph answered with an error, or could not be reached."""

    def __init__(
        self,
        user_message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        sent: bool | None = None,
    ) -> None:
        super().__init__(user_message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.client_request_id = client_request_id
        # False: the request never left (no connection): nothing can have been applied.
        # True: it went out. None: not said (an answer came, or the transport could not tell).
        self.sent = sent

    @property
    def transient(self) -> bool:
        """True when the outcome of the call is unknown (timeout, 5xx, transport error)."""
        return self.status is None or self.status >= 500


class UploadOutcomeUnknown(GraphError):
    """A token upload (``uploadDepToken`` POST or the VPP token PATCH) may or may not have been
    applied: Graph timed out, dropped the connection after sending, or answered 5xx (never raised
    when the connection did not open: ``GraphError.sent`` is False then). It was not
    sent again; whoever uploads reads the token back (``get_ade_token``/``get_vpp_token``) before
    any new attempt. ``cause`` is the error that left the outcome open."""

    def __init__(self, cause: GraphError, *, kind: str, token_id: str) -> None:
        super().__init__(
            cause.user_message,  # already says the change may have landed and to read it back
            status=cause.status,
            code=cause.code,
            request_id=cause.request_id,
            client_request_id=cause.client_request_id,
            sent=cause.sent,
        )
        self.cause = cause
        self.kind = kind
        self.token_id = token_id


class SlackFileError(ApnsBotError):
    """The uploaded file could not be fetched from Slack."""


class SealError(ApnsBotError):
    """A sealed value could not be opened with any configured ``APNS_TOKEN_KEY``."""


class StoreError(ApnsBotError):
    """The database could not be opened or is from a newer apns-bot."""


def internal_error(what: str, error: BaseException | None = None) -> str:
    """Log the exception being handled with a short reference; return a user-safe sentence.

    ``error``: the exception, when it is not the one being handled. For the unexpected: the person sees that nothing half-done happened and a reference an
    operator can find in the log, never a traceback.
    """
    reference = secrets.token_hex(4)
    log.error("%s failed unexpectedly (reference %s)", what, reference, exc_info=error or True)
    return (
        f"Something went wrong inside apns-bot while {what}; nothing was changed. "
        f"The bot's log has the details (reference {reference})."
    )
