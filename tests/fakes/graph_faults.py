"""Misbehaviours the fake Graph can be told to show, and Graph's error answers."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes import graph_shapes as shapes
from tests.fakes.https import Response


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by one matching request."""

    kind: str
    status: int = 0
    retry_after: str | None = None
    seconds: float = 0.0

    @classmethod
    def throttle(cls, retry_after: int | str | None = None) -> Fault:
        """429; ``retry_after`` is seconds or an HTTP date, ``None`` sends no header."""
        return cls("throttle", 429, None if retry_after is None else str(retry_after))

    @classmethod
    def unavailable(cls) -> Fault:
        return cls("unavailable", 503)

    @classmethod
    def gateway_timeout(cls) -> Fault:
        return cls("gateway_timeout", 504)

    @classmethod
    def server_error(cls) -> Fault:
        """500 with Intune's nested message; the request is not applied."""
        return cls("server_error", 500)

    @classmethod
    def error_after_apply(cls) -> Fault:
        """Apply the request (a PATCH changes the certificate), then answer 500 like Intune."""
        return cls("error_after_apply", 500)

    @classmethod
    def forbidden(cls) -> Fault:
        """403 as for an app without the DeviceManagementServiceConfig permission."""
        return cls("forbidden", 403)

    @classmethod
    def unauthorized(cls) -> Fault:
        """401 InvalidAuthenticationToken, whatever token was presented."""
        return cls("unauthorized", 401)

    @classmethod
    def intune_bad_request(cls) -> Fault:
        """400 whose ``message`` is Intune's nested JSON document."""
        return cls("intune_bad_request", 400)

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the connection without answering (the client sees a transport error)."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then answer normally."""
        return cls("slow", seconds=seconds)


def graph_error(status: int, code: str, message: str, request_id: str, crid: str) -> Response:
    return Response(status, shapes.graph_error(code, message, request_id, crid))


def intune_error(
    status: int, code: str, request_id: str, crid: str, detail: str = "An error has occurred"
) -> Response:
    return graph_error(
        status, code, shapes.intune_nested_message(request_id, detail), request_id, crid
    )


def forbidden(scopes: str, request_id: str, crid: str) -> Response:
    message = (
        "Application is not authorized to perform this operation. Application must have one of "
        f"the following scopes: {scopes}"
    )
    return graph_error(403, "Forbidden", message, request_id, crid)


def unauthorized(message: str, authority: str, request_id: str, crid: str) -> Response:
    response = graph_error(401, "InvalidAuthenticationToken", message, request_id, crid)
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="", authorization_uri="{authority}/common/oauth2/authorize", '
        'client_id="00000003-0000-0000-c000-000000000000"'
    )
    return response


def fault_response(fault: Fault, authority: str, request_id: str, crid: str) -> Response:
    """The answer a fault gives instead of the real one."""
    if fault.kind == "throttle":
        response = graph_error(429, "TooManyRequests", "Too many requests", request_id, crid)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response
    if fault.kind == "unavailable":
        return graph_error(503, "ServiceUnavailable", "Service Unavailable", request_id, crid)
    if fault.kind == "gateway_timeout":
        return graph_error(504, "GatewayTimeout", "Gateway Timeout", request_id, crid)
    if fault.kind == "forbidden":
        return forbidden(shapes.READ_SCOPES, request_id, crid)
    if fault.kind == "unauthorized":
        return unauthorized("Access token validation failure.", authority, request_id, crid)
    if fault.kind == "intune_bad_request":
        return intune_error(400, "BadRequest", request_id, crid)
    return intune_error(fault.status or 500, "InternalServerError", request_id, crid)
