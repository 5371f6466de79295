"""The approved certificate at rest: sealed with ``APNS_TOKEN_KEY`` when one is configured.

A push certificate is public, but the bot must keep the approved PEM to upload it after a restart,
and delegated mode promises that no certificate body sits in the database in the clear. Rows
written before a key was configured stay readable. A row that no configured key opens (the key
was replaced) is returned with an empty ``certificate_pem`` and a warning in the log: the request
can then only fail with a clear message (``bot.usecases.renewals``), never crash the listing it is part of.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, overload

from bot.adapters.sealing import SEALED_PREFIX
from bot.core.requests import ChangeRequest
from bot.errors import SealError

if TYPE_CHECKING:
    from bot.adapters.sealing import Sealer

log = logging.getLogger(__name__)


class CertificateSealing:
    def __init__(self, sealer: Sealer | None) -> None:
        self._sealer = sealer

    def seal(self, request: ChangeRequest) -> ChangeRequest:
        if self._sealer is None:
            return request
        return replace(request, certificate_pem=self._sealer.seal_column(request.certificate_pem))

    @overload
    def open(self, request: ChangeRequest) -> ChangeRequest: ...

    @overload
    def open(self, request: None) -> None: ...

    def open(self, request: ChangeRequest | None) -> ChangeRequest | None:
        if request is None:
            return request
        sealed = request.certificate_pem.startswith(SEALED_PREFIX)
        if not sealed:
            return request
        try:
            if self._sealer is None:
                raise SealError("no APNS_TOKEN_KEY is configured")
            pem = self._sealer.open_column(request.certificate_pem)
        except SealError:
            log.warning(
                "request %s: its certificate was sealed with an APNS_TOKEN_KEY that is not configured and cannot "
                "be read; it cannot be uploaded (submit it again with /apns renew)",
                request.id,
            )
            pem = ""
        return replace(request, certificate_pem=pem)
