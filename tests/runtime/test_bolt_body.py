"""Slack's bodies read as Slack sends them: a form is an interactivity payload only when it has a
``payload`` field (Bolt's own reader looks for the substring anywhere)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from slack_bolt.request.internals import parse_body

from bot.runtime.bolt_body import SlackBoltRequest, parse_slack_body

FORM = "application/x-www-form-urlencoded"
COMMAND = {"command": "/apns", "text": "status payload", "user_id": "U0LEAD", "team_id": "T0ACME"}


def test_a_command_holding_the_word_payload_is_a_command() -> None:
    body = urlencode(COMMAND)
    assert parse_body(body, FORM) == {}  # Bolt's reading: the command is lost
    assert parse_slack_body(body, FORM) == COMMAND


def test_a_payload_field_and_json_bodies_read_as_before() -> None:
    action = {"type": "block_actions", "user": {"id": "U0LEAD"}, "team": {"id": "T0ACME"}}
    form = urlencode({"payload": json.dumps(action)})
    assert parse_slack_body(form, FORM) == action == parse_body(form, FORM)
    event = {"type": "event_callback", "team_id": "T0ACME"}
    assert parse_slack_body(json.dumps(event), "application/json") == event
    assert parse_slack_body("", FORM) == {}
    with pytest.raises(ValueError):
        parse_slack_body(urlencode({"payload": "{not json"}), FORM)


def test_bolts_request_keeps_the_raw_body_and_reads_the_context_from_the_fields() -> None:
    body = urlencode(COMMAND)
    request = SlackBoltRequest(body=body, headers={"content-type": FORM})
    assert request.raw_body == body  # what Bolt's own signature check hashes
    assert request.body == COMMAND
    assert (request.context.user_id, request.context.team_id) == ("U0LEAD", "T0ACME")
    copy = request.to_copyable()  # what a lazy listener gets
    assert copy.body == COMMAND and copy.context.user_id == "U0LEAD"
