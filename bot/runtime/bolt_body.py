"""Slack's request bodies read as Slack sends them, for the request gate and for Bolt.

Bolt's ``parse_body`` (``slack_bolt.request.internals``, 1.x) takes a form body for an
interactivity payload whenever the *substring* ``payload`` appears anywhere in it, and answers
``{}`` when no ``payload`` field is there. A slash command whose text, channel name, user name or
workspace domain holds the word (``/apns status payload``, a ``#payload-team`` channel) then
reached no listener: Bolt answered 404 and Slack showed the user its "failed" error. Here a form
body is an interactivity payload only when it has a ``payload`` field; everything else Bolt does
(its signature check over the raw body included) is unchanged.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request.internals import build_context

JSON = "application/json"


def parse_slack_body(text: str, content_type: str | None) -> Any:
    """A Slack request body: JSON (the Events API), an interactivity ``payload`` field's JSON,
    or the form's fields (a slash command). Raises ``ValueError`` on malformed JSON."""
    if not text:
        return {}
    if content_type == JSON or text.startswith("{"):
        return json.loads(text)
    fields = dict(parse_qsl(text, keep_blank_values=True))
    payload = fields.get("payload")
    return json.loads(payload) if payload is not None else fields


class SlackBoltRequest(BoltRequest):
    """A ``BoltRequest`` (HTTP mode: ``raw_body`` kept for Bolt's signature check) whose ``body``
    and context come from ``parse_slack_body``."""

    def __init__(self, *, body: str, query: Any = None, headers: Any = None) -> None:
        super().__init__(body=body, query=query, headers=headers)
        parsed = parse_slack_body(self.raw_body, self.content_type)
        if parsed != self.body:  # only a form body Bolt misread differs
            self.body = parsed
            self.context = build_context(BoltContext({}), parsed)

    def to_copyable(self) -> BoltRequest:  # lazy listeners run on a copy: read it the same way
        copy = SlackBoltRequest(body=self.raw_body, query=self.query, headers=self.headers)
        copy.context = self.context.to_copyable()
        return copy


class SlackBoltHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, dispatching ``SlackBoltRequest``s."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        return self.app.dispatch(
            SlackBoltRequest(
                body=request.get_body(),
                query=request.query_string,
                headers=request.get_headers(),
            )
        )
