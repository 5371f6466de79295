"""Microsoft Graph failures as one ``GraphError`` a person can act on.

Graph errors look like ``{"error": {"code", "message", "innerError": {"request-id", "date",
"client-request-id"}}}``; Intune often puts a whole JSON document into ``message``, whose
``Message`` is the readable part. Every error keeps the request ids Microsoft support asks for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx

from bot.errors import GraphError

READ_PERMISSION = "DeviceManagementServiceConfig.Read.All"
WRITE_PERMISSION = "DeviceManagementServiceConfig.ReadWrite.All"
_URL_TAIL = re.compile(r"\s+-\s+Url:\s+\S+\s*$")


@dataclass(frozen=True)
class Call:
    """What one Graph call was for, to word its errors."""

    method: str
    action: str  # e.g. "read the push certificate"
    client_id: str
    tenant_id: str
    writes: bool = False  # a write may have been applied even when it failed
    thing: str = "certificate"  # what a failed write's caller reads back ("ADE token"...)


def readable_message(message: str) -> str:
    """Graph's ``message``, with Intune's nested JSON unwrapped to its ``Message``."""
    text = message.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return text
        if isinstance(document, dict):
            inner = document.get("Message") or document.get("message")
            if isinstance(inner, str) and inner.strip():
                text = inner.strip()
    return _URL_TAIL.sub("", text)  # Intune's internal front-end URL helps nobody


def parse_error_body(response: httpx.Response) -> tuple[str | None, str, str | None, str | None]:
    """``(code, readable message, request-id, client-request-id)`` from an error answer."""
    try:
        document = response.json()
    except ValueError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return (
            None,
            f"{response.reason_phrase or 'error'} (a {kind} answer, not Graph's JSON)",
            None,
            None,
        )
    inner = error.get("innerError") or error.get("innererror") or {}
    inner = inner if isinstance(inner, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    message = readable_message(str(error.get("message") or ""))
    request_id = inner.get("request-id")
    client_request_id = inner.get("client-request-id")
    return (
        code,
        message,
        request_id if isinstance(request_id, str) else None,
        client_request_id if isinstance(client_request_id, str) else None,
    )


def _ids(request_id: str | None, client_request_id: str | None) -> str:
    parts = [f"request-id {request_id}"] if request_id else []
    parts += [f"client-request-id {client_request_id}"] if client_request_id else []
    return f" ({', '.join(parts)})" if parts else ""


def permission_hint(call: Call) -> str:
    if call.writes:
        needed = f"the application permission {WRITE_PERMISSION} (needed to renew)"
    else:
        needed = (
            f"the application permission {READ_PERMISSION} (read-only monitoring) or "
            f"{WRITE_PERMISSION} (needed to renew)"
        )
    return (
        f"The app (client id {call.client_id}) lacks {needed}. Grant it in the Entra admin center: "
        "App registrations → your app → API permissions → Add a permission → Microsoft Graph → "
        "Application permissions → DeviceManagementServiceConfig, then “Grant admin consent” for "
        f"tenant {call.tenant_id}."
    )


def error_from_response(
    response: httpx.Response,
    call: Call,
    client_request_id: str,
    attempts: int,
    retry_after: float | None = None,
) -> GraphError:
    status = response.status_code
    code, message, request_id, echoed = parse_error_body(response)
    request_id = request_id or response.headers.get("request-id")
    client_request_id = echoed or response.headers.get("client-request-id") or client_request_id
    what = f"{status} {code}" if code else str(status)
    text = f"Microsoft Graph refused to {call.action}: {what}: {message}"
    if status == 403:
        text += f"\n{permission_hint(call)}"
    elif status == 401:
        text += (
            "\nGraph rejected a fresh token too: check that GRAPH_URL and AZURE_CLOUD name the "
            "tenant's cloud, and that admin consent was granted."
        )
    elif status == 429 and retry_after is not None:
        text = (
            f"Microsoft Graph is throttling the request to {call.action} and asked to wait "
            f"{retry_after:.0f} s, longer than apns-bot waits. Try again after that."
        )
    elif status == 429:
        text = (
            f"Microsoft Graph kept throttling the request to {call.action} (429 after {attempts} "
            "attempts). Try again in a few minutes."
        )
    elif status >= 500:
        text = f"Microsoft Graph failed to {call.action}: {what}: {message}"
        if attempts > 1:
            text += f" (after {attempts} attempts)"
        text += "."
        if call.writes:
            text += (
                " Intune sometimes applies a change and still answers an error: read the "
                f"{call.thing} back before trying again."
            )
        else:
            text += " Intune may be having trouble; try again later."
    return GraphError(
        text + _ids(request_id, client_request_id),
        status=status,
        code=code,
        request_id=request_id,
        client_request_id=client_request_id,
    )


def never_sent(exc: httpx.TransportError) -> bool:
    """True when the request cannot have left: no connection was opened (refused, DNS, connect
    or pool timeout). A write failing so changed nothing and may be sent again."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def error_from_transport(
    exc: httpx.TransportError, call: Call, url: str, client_request_id: str, attempts: int
) -> GraphError:
    """The error for a request without an answer; ``sent`` says whether it may have left."""
    sent = not never_sent(exc)
    if isinstance(exc, httpx.TimeoutException):
        reason = f"timed out, {host_of(url)} did not answer ({type(exc).__name__})"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "the connection closed without an answer"
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = f"The request to {call.action} at Microsoft Graph ({url}) failed: {reason}"
    if attempts > 1:
        text += f" (after {attempts} attempts)"
    text += "."
    if call.writes and sent:
        text += (
            f" The change may or may not have reached Intune: read the {call.thing} back before "
            "trying again."
        )
    elif call.writes:
        text += " No connection was opened, so nothing was sent and nothing changed."
    return GraphError(
        text + _ids(None, client_request_id), client_request_id=client_request_id, sent=sent
    )


def host_of(url: str) -> str:
    return httpx.URL(url).host or url


def tls_error(exc: httpx.TransportError, url: str, client_request_id: str) -> GraphError | None:
    """A certificate-verification failure: retrying cannot help, a CA bundle can."""
    if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
        return None
    return GraphError(
        f"Could not verify the TLS certificate of {url}. If a proxy inspects TLS, set "
        "SSL_CERT_FILE to a PEM bundle holding its CA certificate.",
        client_request_id=client_request_id,
        sent=False,  # the handshake failed: no request left
    )
