"""`apns-bot run` in Socket Mode: connects out with the app-level token, answers over the socket."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.cli.test_run import BOT, clean_env
from tests.fakes.graph_server import FakeGraph
from tests.fakes.slack_server import APP_TOKEN, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.harness import stop_process


def test_status_over_socket_mode(
    bot_env: dict[str, str],
    fake_slack: FakeSlack,
    fake_graph: FakeGraph,
    socket_mode: FakeSocketMode,
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in bot_env.items() if k != "SLACK_SIGNING_SECRET"}
    env["SLACK_APP_TOKEN"] = APP_TOKEN
    proc = subprocess.Popen(
        [*BOT, "run"],
        cwd=tmp_path,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        socket_mode.wait_connected()
        assert fake_slack.calls_to("apps.connections.open")
        response_url = f"{fake_slack.base}/response/socket1"
        fake_graph.hold()
        envelope = socket_mode.send(
            "slash_commands",
            {
                "token": "gIkuvaNzQIHg97ATvDxqgjtO",
                "team_id": "T0EXAMPLE",
                "channel_id": "C0APNSOPS",
                "user_id": "U0REQUESTER",
                "command": "/apns",
                "text": "status",
                "api_app_id": "A0APNSBOT",
                "response_url": response_url,
                "trigger_id": "1234567893.0987654321.2c3d4e5f",
            },
        )
        ack = socket_mode.wait_ack(envelope)  # acknowledged while Graph has not answered yet
        assert ack["payload"]["response_type"] == "ephemeral"
        fake_graph.wait_held()
        fake_graph.release()
        answer = fake_slack.wait_for("response_url")
        assert "0B7002EFEA6BA6D0" in str(answer.params["blocks"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        stop_process(proc)
