"""HTTP mode's front door: what a request must pass before Bolt sees it.

In this order, each step cheap before the next one costs anything:

1. a body over ``MAX_BODY_BYTES`` is refused with 413 from its ``Content-Length`` alone, never read
   (waitress refuses larger bodies too, chunked ones included: ``bot.runtime.server``);
2. the timestamp must be a number within ``SIGNATURE_WINDOW`` seconds of now (else 401, body
   unread); then the body is read, bounded, and its ``X-Slack-Signature`` checked on the raw bytes
   (else 401). One short log line says why: never the body, never a header;
3. a signed body that is not UTF-8, not parseable by Bolt's own parser, or not shaped like a
   Slack payload (``bot.slack.payload_shape``) is refused with 400;
4. whatever Bolt does with the rest, the answer is never a 500: a failure inside Bolt is logged
   with a reference and answered 400.

The signature is computed here rather than with ``slack_sdk.signature.SignatureVerifier`` because
that one decodes the body as UTF-8 first and raises on anything else; the algorithm is Slack's
(HMAC-SHA256 over ``v0:{timestamp}:{body}``, compared in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

# Bolt's own parsing, so the gate checks exactly the object Bolt will dispatch
from slack_bolt.request.internals import extract_content_type

from bot.runtime.bolt_body import parse_slack_body
from bot.slack.payload_shape import shape_problem

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are a few KB; a modal with every field, ~50 KB
SIGNATURE_WINDOW = 300  # seconds either side of now, as Slack documents
_MAX_TIMESTAMP_CHARS = 12
_MAX_SIGNATURE_CHARS = 80


@dataclass(frozen=True)
class Refusal:
    status: str
    why: str  # for the log line: short, never from the request


TOO_LARGE = Refusal("413 Request Entity Too Large", "body over the size limit")
UNSIGNED = Refusal("401 Unauthorized", "missing or malformed signature headers")
STALE = Refusal("401 Unauthorized", "timestamp outside the 5-minute window")
BAD_SIGNATURE = Refusal("401 Unauthorized", "signature does not match")
NOT_UTF8 = Refusal("400 Bad Request", "signed body is not UTF-8")
NOT_PARSEABLE = Refusal("400 Bad Request", "signed body cannot be parsed")
METHOD = Refusal("405 Method Not Allowed", "not a POST")
# Slack checks an HTTPS endpoint's certificate with an unsigned ``ssl_check=1&token=...`` POST
# (Bolt answers it before verifying, too): 200, nothing read beyond a few hundred bytes, no log.
SSL_CHECK = Refusal("200 OK", "Slack's certificate check")
_MAX_SSL_CHECK_BYTES = 256


def signature_of(secret: bytes, timestamp: str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + hex HMAC-SHA256 over ``v0:{timestamp}:{body}``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


class RequestGate:
    """WSGI middleware in front of Bolt's ``SlackRequestHandler`` (``inner``)."""

    def __init__(
        self,
        inner: WSGIApplication,
        signing_secret: str,
        *,
        now: Callable[[], float] = time.time,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        if not signing_secret:
            raise ValueError("the request gate needs the signing secret")
        self._inner = inner
        self._secret = signing_secret.encode("utf-8")
        self._now = now  # the real clock: Slack signs with it, whatever the bot's clock says
        self._max_body = max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        checked = self._check(environ)
        if checked is SSL_CHECK:
            return _answer(SSL_CHECK.status, start_response)
        if isinstance(checked, Refusal):
            return _refuse(checked, environ, start_response)
        environ["wsgi.input"] = io.BytesIO(checked)
        environ["CONTENT_LENGTH"] = str(len(checked))
        try:
            return list(self._inner(environ, start_response))
        except Exception:  # a signed request Bolt fails on: logged, never a 500
            reference = secrets.token_hex(4)
            log.exception("a signed request failed inside Bolt (reference %s)", reference)
            return _answer("400 Bad Request", start_response)

    def _check(self, environ: WSGIEnvironment) -> bytes | Refusal:
        if environ.get("REQUEST_METHOD") != "POST":
            return METHOD
        length = _content_length(environ)
        if length is None or length > self._max_body:
            return TOO_LARGE
        timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
        signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
        if not timestamp and not signature and 0 < length <= _MAX_SSL_CHECK_BYTES:
            return SSL_CHECK if _is_ssl_check(environ["wsgi.input"].read(length)) else UNSIGNED
        if not (0 < len(timestamp) <= _MAX_TIMESTAMP_CHARS and timestamp.isascii()):
            return UNSIGNED
        if not timestamp.isdigit() or not 0 < len(signature) <= _MAX_SIGNATURE_CHARS:
            return UNSIGNED
        if abs(self._now() - int(timestamp)) > SIGNATURE_WINDOW:
            return STALE
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) != length:
            return NOT_PARSEABLE  # the client closed early: nothing whole to verify
        expected = signature_of(self._secret, timestamp, body)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            return BAD_SIGNATURE
        content_type = str(environ.get("CONTENT_TYPE") or "")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return NOT_UTF8
        try:
            parsed = parse_slack_body(text, extract_content_type({"content-type": [content_type]}))
        except (ValueError, RecursionError):
            return NOT_PARSEABLE
        if not isinstance(parsed, dict) or shape_problem(parsed) is not None:
            return NOT_PARSEABLE
        return body


def _is_ssl_check(body: bytes) -> bool:
    try:
        fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return False
    return fields.get("ssl_check") == "1" and set(fields) <= {"ssl_check", "token"}


def _content_length(environ: WSGIEnvironment) -> int | None:
    """The declared length; None when absent or not a number (waitress always sets it, having
    de-chunked the body within its own limit)."""
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    if not raw.isdigit() or len(raw) > 12:
        return None
    return int(raw)


def _refuse(
    refusal: Refusal, environ: WSGIEnvironment, start_response: StartResponse
) -> list[bytes]:
    peer = str(environ.get("REMOTE_ADDR") or "?")[:45]
    log.warning("refused a request from %s: %s (%s)", peer, refusal.why, refusal.status[:3])
    return _answer(refusal.status, start_response)


def _answer(status: str, start_response: StartResponse) -> list[bytes]:
    body = status[4:].encode("ascii")
    headers: list[tuple[str, str]] = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    if status.startswith("413"):
        headers.append(("Connection", "close"))
    start_response(status, headers)
    return [body]
