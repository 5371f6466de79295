"""The plumbing of every Microsoft Graph call of one tenant: ``GraphTransport``.

It sends one request with a fresh ``client-request-id`` and bearer token, retries what may be
retried and turns every failure into one ``GraphError``: 429, 503, 504 and transport errors are
retried a bounded number of times, honouring ``Retry-After``. A write (``writes=True``) is retried
only when the server cannot have processed it (429, or a connection that never opened, a connect
timeout included; ``GraphError.sent`` is False when it never left): Intune
sometimes applies an upload and still answers 5xx, so after any other failure the caller reads the
entity back before deciding anything. A 401 is retried once with a fresh token.

Shared by ``HttpGraphClient`` (the push certificate, the token lists) and ``AppleTokenGraph`` (the
ADE and VPP token reads and uploads). Tokens and bodies never reach a log line.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from bot.adapters.entra.app_only import TokenProvider
from bot.adapters.graph.errors import (
    Call,
    error_from_response,
    error_from_transport,
    never_sent,
    tls_error,
)
from bot.adapters.graph.retry import Budget, RetryPolicy
from bot.config import TenantSettings
from bot.errors import GraphError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503, 504})
# An upload may take Intune longer than a read: its answer gets this long (connecting does not).
# A write that times out anyway is settled by reading the entity back, never by guessing.
WRITE_READ_TIMEOUT = 60.0


class GraphTransport:
    """One tenant's Graph: ``send`` a request, read its ``json``; safe to share between threads."""

    def __init__(
        self,
        tenant: TenantSettings,
        token_provider: TokenProvider,
        http: httpx.Client,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.tenant = tenant
        self.http = http
        self.retry = retry or RetryPolicy()
        self.base = tenant.graph_url.rstrip("/") + "/"
        self.write_timeout = httpx.Timeout(WRITE_READ_TIMEOUT, connect=http.timeout.connect)
        self._token_provider = token_provider

    def get_json(self, path: str, action: str, *, budget: Budget | None = None) -> Any:
        return self.json(self.send("GET", path, action, budget=budget), action)

    def json(self, response: httpx.Response, action: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(
                f"Microsoft Graph answered the request to {action} with something that is not JSON.",
                status=response.status_code,
                request_id=response.headers.get("request-id"),
            ) from exc

    def send(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Mapping[str, Any] | None = None,
        writes: bool = False,
        thing: str = "certificate",
        budget: Budget | None = None,
    ) -> httpx.Response:
        """The answer to one request, retried within ``budget`` (a fresh one by default; a
        shared one keeps counting the tries and waits it already holds)."""
        call = Call(method, action, self.tenant.client_id, self.tenant.tenant_id, writes, thing)
        absolute = path.startswith(("https://", "http://"))  # a nextLink, checked by the caller
        policy = self.retry
        spent = budget if budget is not None else Budget()
        refreshed = False
        while True:
            spent.tries += 1
            attempt = spent.tries
            client_request_id = str(uuid.uuid4())
            token = self._token_provider.token()
            headers = {
                "Authorization": f"Bearer {token}",
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
            }
            try:
                response = self.http.request(
                    method,
                    path if absolute else self.base + path,
                    json=json,
                    headers=headers,
                    timeout=self.write_timeout if writes else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                url = self.tenant.graph_root
                fatal = tls_error(exc, url, client_request_id)
                if fatal is not None:
                    raise fatal from exc
                # A connection that never opened cannot have delivered a write: a write is sent
                # again then (a connect timeout included), and only then.
                unsent = never_sent(exc)
                # A host that stayed silent for a whole timeout is reported, not waited on again:
                # behind a dead proxy every retry would add the full timeout to the command. A
                # write that could not connect is the exception: nobody else will resend it.
                silent = isinstance(exc, httpx.TimeoutException) and not (writes and unsent)
                delay = policy.backoff(attempt)
                retry = self.may_retry(attempt, spent.waited, delay)
                if silent or (writes and not unsent) or not retry:
                    raise error_from_transport(exc, call, url, client_request_id, attempt) from exc
                log.warning(
                    "graph %s %s: %s (client-request-id %s); retry %d in %.1f s",
                    method, path, type(exc).__name__, client_request_id, attempt, delay,
                )  # fmt: skip
                policy.sleep(delay)
                spent.waited += delay
                continue
            except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
                raise GraphError(
                    f"Microsoft Graph sent an unreadable answer to {method} {path} "
                    f"({type(exc).__name__}); try again.",
                    client_request_id=client_request_id,
                ) from exc
            status = response.status_code
            log.debug(
                "graph %s %s -> %d (client-request-id %s)", method, path, status, client_request_id
            )
            if status == 401 and not refreshed:
                refreshed = True  # the token may have been revoked or expired early: once more
                self._token_provider.invalidate(token)
                spent.tries -= 1
                continue
            if response.is_success:
                return response
            retryable = status == 429 or (status in RETRY_STATUSES and not writes)
            if not retryable:
                raise error_from_response(response, call, client_request_id, attempt)
            asked = policy.retry_after(response.headers.get("Retry-After"))
            delay = policy.backoff(attempt) if asked is None else asked
            if not self.may_retry(attempt, spent.waited, delay):
                too_long = (
                    asked
                    if asked is not None and spent.waited + asked > policy.max_total_wait
                    else None
                )
                raise error_from_response(response, call, client_request_id, attempt, too_long)
            log.warning(
                "graph %s %s -> %d (client-request-id %s); retry %d in %.1f s",
                method, path, status, client_request_id, attempt, delay,
            )  # fmt: skip
            policy.sleep(delay)
            spent.waited += delay

    def forget_token(self, request: httpx.Request) -> None:
        """Graph rejected the token ``request`` carried (a 401 inside a batch): the next request
        signs in again."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and token:
            self._token_provider.invalidate(token)

    def may_retry(self, attempt: int, waited: float, delay: float) -> bool:
        policy = self.retry
        return attempt < policy.max_attempts and waited + delay <= policy.max_total_wait
