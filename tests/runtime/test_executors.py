"""Follow-up work yields to acknowledgements (``Answering`` + ``Background``), and pools start their
threads before serving. Real threads; waits are bounded, and no assertion is about speed."""

from __future__ import annotations

import io
import logging
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.cli.run import CountingSocketModeHandler
from bot.runtime.executors import Answering, Background
from bot.runtime.server import EVENTS_PATH, HEALTH_PATH, wsgi_app
from tests.slack_requests import SIGNING_SECRET, sign

PATIENCE = 5.0  # what a task gets to run when it should; only a broken gate uses it up
NOT_YET = 0.3  # how long a held-back task is watched to stay held back


def test_a_follow_up_waits_until_the_requests_being_answered_are_answered() -> None:
    answering = Answering()
    pool = Background(2, answering=answering, defer=60.0)
    ran = threading.Event()
    try:
        with answering.request():
            pool.submit(ran.set)
            assert not ran.wait(NOT_YET), "the follow-up started while a request was unanswered"
        assert ran.wait(PATIENCE)
    finally:
        pool.shutdown()


def test_a_follow_up_waits_for_every_request_not_just_the_first() -> None:
    answering = Answering()
    pool = Background(1, answering=answering, defer=60.0)
    ran = threading.Event()
    first, second = answering.request(), answering.request()
    try:
        first.__enter__()
        second.__enter__()
        pool.submit(ran.set)
        first.__exit__(None, None, None)
        assert answering.count == 1
        assert not ran.wait(NOT_YET)
        second.__exit__(None, None, None)
        assert ran.wait(PATIENCE)
    finally:
        pool.shutdown()


def test_a_follow_up_never_waits_longer_than_its_pool_defers() -> None:
    answering = Answering()
    pool = Background(1, answering=answering, defer=0.1)
    ran = threading.Event()
    try:
        with answering.request():  # a burst that does not end
            pool.submit(ran.set)
            assert ran.wait(PATIENCE)
            assert answering.count == 1
    finally:
        pool.shutdown()


def test_with_nothing_to_answer_a_follow_up_starts_at_once() -> None:
    answering = Answering()
    pool = Background(1, answering=answering, defer=60.0)
    try:
        assert pool.submit(lambda: 42).result(PATIENCE) == 42
    finally:
        pool.shutdown()


def test_held_back_tasks_are_cancelled_by_a_shutdown_that_does_not_wait() -> None:
    answering = Answering()
    pool = Background(1, answering=answering, defer=60.0)
    with answering.request():
        future = pool.submit(lambda: "never")
        pool.shutdown(wait=False)
    assert future.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: "after shutdown")


def test_a_shutdown_that_waits_runs_what_was_submitted_and_failures_reach_the_future() -> None:
    answering = Answering()
    pool = Background(2, answering=answering, defer=0.1)
    with answering.request():  # still being answered: the tasks start after their defer
        done = pool.submit(lambda: "done")
        failed = pool.submit(lambda: 1 // 0)
        pool.shutdown(wait=True)
    assert done.result(0) == "done"
    assert isinstance(failed.exception(0), ZeroDivisionError)


def test_start_threads_starts_every_worker_before_any_work() -> None:
    pool = Background(4, name="apns-test-start")
    try:
        pool.start_threads()
        names = [t.name for t in threading.enumerate() if t.name.startswith("apns-test-start")]
        assert len(names) == 4
    finally:
        pool.shutdown()


def _signed_command_environ(text: str) -> dict[str, object]:
    body = urlencode(
        {
            "command": "/apns",
            "text": text,
            "team_id": "T0EXAMPLE",
            "user_id": "U0REQUESTER",
            "channel_id": "C0APNSOPS",
            "response_url": "http://127.0.0.1:9/hooks",
            "trigger_id": "1.2.3",
        }
    ).encode()
    headers = sign(body, SIGNING_SECRET)
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": EVENTS_PATH,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": headers["Content-Type"],
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_SLACK_SIGNATURE": headers["X-Slack-Signature"],
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": headers["X-Slack-Request-Timestamp"],
        "wsgi.input": io.BytesIO(body),
    }


def _counting_app(answering: Answering) -> tuple[App, list[int]]:
    """A Bolt app whose /apns listener notes how many requests were being answered, then acks."""
    app = App(signing_secret=SIGNING_SECRET, authorize=_authorize)
    seen: list[int] = []

    @app.command("/apns")
    def listener(ack: Ack) -> None:
        seen.append(answering.count)
        ack("ok")

    return app, seen


def test_the_server_counts_a_slack_request_until_its_answer_is_handed_back() -> None:
    answering = Answering()
    app, seen = _counting_app(answering)
    application = wsgi_app(app, SIGNING_SECRET, answering=answering)
    statuses: list[str] = []
    body = b"".join(application(_signed_command_environ("status"), lambda s, h: statuses.append(s)))
    assert statuses == ["200 OK"] and body == b"ok"
    assert seen == [1]  # counted while Bolt had it
    assert answering.count == 0  # and no longer once answered

    health = {"REQUEST_METHOD": "GET", "PATH_INFO": HEALTH_PATH, "wsgi.input": io.BytesIO()}
    b"".join(application(health, lambda s, h: statuses.append(s)))
    assert statuses[-1] == "200 OK" and answering.count == 0


def _authorize() -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id="T0EXAMPLE", bot_token="xoxb-test")


def test_a_request_bolt_fails_on_is_no_longer_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    answering = Answering()
    app = App(signing_secret=SIGNING_SECRET, authorize=_authorize)

    def broken(request: object) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(app, "dispatch", broken)
    application = wsgi_app(app, SIGNING_SECRET, answering=answering)
    statuses: list[str] = []
    application(_signed_command_environ("status"), lambda s, h: statuses.append(s))
    assert statuses == ["400 Bad Request"]  # logged with a reference, never a 500
    assert answering.count == 0


def test_socket_mode_counts_each_envelope_until_it_is_acknowledged() -> None:
    answering = Answering()
    app, seen = _counting_app(answering)

    class Client:
        """The part of slack_sdk's SocketModeClient that Bolt's handler uses to acknowledge."""

        def __init__(self) -> None:
            self.sent: list[Any] = []
            self.logger = logging.getLogger("tests.socket_mode")

        def send_socket_mode_response(self, response: Any) -> None:
            self.sent.append(response)

    handler = CountingSocketModeHandler(app, "xapp-1-A0APNSBOT-1-x", answering)
    try:
        payload = {
            "command": "/apns",
            "text": "status",
            "team_id": "T0EXAMPLE",
            "user_id": "U0REQUESTER",
            "channel_id": "C0APNSOPS",
        }
        request = SocketModeRequest(type="slash_commands", envelope_id="e1", payload=payload)
        client = Client()
        handler.handle(client, request)  # type: ignore[arg-type]  # only the response is sent
    finally:
        handler.close()
    assert seen == [1]
    assert answering.count == 0
    assert [r.envelope_id for r in client.sent] == ["e1"]
