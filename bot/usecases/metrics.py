"""What the ``Metrics`` port (``bot.usecases.ports``) counts: the use cases count outcomes where
they decide them.

``apns_bot_requests_total``, ``apns_bot_approvals_total`` and ``apns_bot_uploads_total`` (labels
``kind`` and ``outcome``) are counted through it; ``bot.adapters.metrics.PrometheusMetrics`` plays
it in a running bot, ``NO_METRICS`` everywhere else (CLI commands, tests that do not look). Every
label value comes from these enums: a bounded set, never a name, an Apple ID or a user.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.tokens import CredentialKind


class RequestOutcome(StrEnum):
    """What became of a submitted renewal."""

    SENT = "sent"  # posted for approval
    BLOCKED = "blocked"  # the checks refused the certificate
    WAITING = "waiting"  # someone else's request is still open: nothing stored
    UNPOSTED = "unposted"  # Slack refused the approval message: cancelled
    ERROR = "error"  # the current certificate could not be read


class ApprovalOutcome(StrEnum):
    """What an approver's click (or the clock) did to a request."""

    APPROVED = "approved"  # the last approval needed: on to the upload
    RECORDED = "recorded"  # counted, more approvals needed
    REFUSED = "refused"  # not allowed (own request, not an approver, no longer pending, …)
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # withdrawn by the requester
    EXPIRED = "expired"  # nobody decided in time


class UploadOutcome(StrEnum):
    """How an upload to Intune ended."""

    APPLIED = "applied"
    FAILED = "failed"


PUSH = CredentialKind.PUSH  # the only kind renewed through the bot today


class NoMetrics:
    """Counts nothing (plays ``bot.usecases.ports.Metrics``)."""

    def requested(self, outcome: RequestOutcome, kind: CredentialKind = PUSH) -> None:
        return None

    def decided(self, outcome: ApprovalOutcome, kind: CredentialKind = PUSH) -> None:
        return None

    def uploaded(self, outcome: UploadOutcome, kind: CredentialKind = PUSH) -> None:
        return None


NO_METRICS = NoMetrics()
