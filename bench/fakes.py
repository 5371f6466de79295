"""The fake Slack and the fake Entra ID + Graph (from ``tests/fakes``) in a process of their own.

    python -m bench.fakes --workdir DIR [--graph-latency SECONDS]

Run apart from both the bot and the load generator, so neither's GIL is shared with them. The first
line on stdout is JSON: the settings that point apns-bot at the fakes, and a hosted renewal
certificate (a ``file_input`` entry). Then it answers one JSON command per stdin line with one JSON
line, and exits when stdin closes (so it never outlives the benchmark):

- ``{"op": "latency", "seconds": s}``: every Graph and Entra answer takes ``s`` more;
- ``{"op": "new_file"}``: host a fresh renewal of the tenant's certificate, later-expiring than any
  before it (a renewal can be applied only once);
- ``{"op": "slack_calls", "method": m, "since": t}``, ``{"op": "graph_requests", "since": t}``:
  what arrived after ``t``, with arrival times on ``time.monotonic()`` (CLOCK_MONOTONIC, the same
  clock in every process on the machine);
- ``{"op": "slack_methods", "since": t}``: Slack calls after ``t``, counted by method;
- ``{"op": "activity"}``: how many Slack calls and Graph requests arrived so far.
"""

from __future__ import annotations

import argparse
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.procs import Child, Pinning, child_env, real_time_anchor
from tests.certgen import ca_dir, make_push_cert
from tests.clock import real_now
from tests.fakes.graph_server import FakeGraph
from tests.fakes.https import RecordedRequest, Response
from tests.fakes.slack_server import BOT_TOKEN, FakeSlack
from tests.fakes.tls import TlsMaterial, make_tls_material
from tests.harness import CHANNEL, GROUP_LEAD, LEAD_1, LEAD_2, LEADS_GROUP
from tests.slack_requests import SIGNING_SECRET

CURRENT_UUID = "2f42b322-d7c9-4734-8e2e-eeadadd36f20"  # the fake tenant's topic
READY_TIMEOUT = 60.0
ANSWER_TIMEOUT = 30.0


def deepen_accept_queues() -> None:
    """The fakes stand in for Slack's and Microsoft's edges, which accept every connection; Python's
    ``socketserver`` default listen backlog is 5, and under a burst the bot's 6th concurrent call
    would wait for a SYN retransmission (1 s) that the real services never make it wait for."""
    ThreadingHTTPServer.request_queue_size = 1024


class TimedGraph(FakeGraph):
    """The fake Graph, also noting when each request arrived (``time.monotonic()``)."""

    def __init__(self, tls: TlsMaterial) -> None:
        self.arrivals: list[tuple[float, str, str]] = []
        super().__init__(tls)

    def handle(self, request: RecordedRequest) -> Response | None:
        self.arrivals.append((time.monotonic(), request.method, request.path))
        return super().handle(request)


class Fakes:
    def __init__(self, workdir: Path, latency: float) -> None:
        self.slack = FakeSlack().start()
        self.slack.usergroups = {LEADS_GROUP: [GROUP_LEAD]}
        self.graph = TimedGraph(make_tls_material(workdir / "tls"))
        self.graph.start()
        self.graph.set_latency(latency)
        self.apple_ca = ca_dir(workdir / "apple-ca")
        self.files = 0

    def close(self) -> None:
        self.graph.stop()
        self.slack.close()

    def settings(self, workdir: Path) -> dict[str, str]:
        return {
            **self.graph.env(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.url,
            "APNS_CHANNEL": CHANNEL,
            "APNS_APPROVERS": f"{LEAD_1},{LEAD_2},{LEADS_GROUP}",
            "APPLE_CA_DIR": str(self.apple_ca),
            "APNS_DB_PATH": str(workdir / "apns-bot.sqlite3"),
        }

    def new_file(self) -> dict[str, Any]:
        """A renewal of the fake tenant's certificate, one hour later-expiring than the last."""
        self.files += 1
        start = real_now() - timedelta(days=1)  # the bot under test runs on the real clock
        cert = make_push_cert(
            topic_uuid=CURRENT_UUID,
            not_before=start,
            not_after=start + timedelta(days=365, hours=self.files),
        )
        name = "MDM_ Microsoft Corporation_Certificate.pem"
        return self.slack.host_file(f"F0BENCH{self.files:04d}", cert.pem, name)

    def answer(self, command: dict[str, Any]) -> Any:
        op = command.get("op")
        since = float(command.get("since", 0.0))
        if op == "latency":
            self.graph.set_latency(float(command["seconds"]))
            return {"ok": True}
        if op == "new_file":
            return self.new_file()
        if op == "slack_calls":
            return [
                {"at": c.at, "params": c.params}
                for c in self.slack.calls_to(str(command["method"]))
                if c.at >= since
            ]
        if op == "graph_requests":
            return [
                {"at": at, "method": m, "path": p}
                for at, m, p in list(self.graph.arrivals)
                if at >= since
            ]
        if op == "slack_methods":
            counts: dict[str, int] = {}
            for call in list(self.slack.calls):
                if call.at >= since:
                    counts[call.method] = counts.get(call.method, 0) + 1
            return counts
        if op == "activity":
            return {"slack": len(self.slack.calls), "graph": len(self.graph.arrivals)}
        return {"error": f"unknown op {op!r}"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--graph-latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    deepen_accept_queues()
    fakes = Fakes(args.workdir, args.graph_latency)
    try:
        ready = {"settings": fakes.settings(args.workdir), "file": fakes.new_file()}
        print(json.dumps(ready), flush=True)
        for line in sys.stdin:  # ends when the benchmark closes stdin or dies
            if line.strip():
                print(json.dumps(fakes.answer(json.loads(line))), flush=True)
    finally:
        fakes.close()
    return 0


class FakesProcess:
    """The benchmark's handle on ``python -m bench.fakes`` (a context manager)."""

    def __init__(self, workdir: Path, graph_latency: float) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "bench.fakes", "--workdir", str(workdir)]
        args += ["--graph-latency", str(graph_latency)]
        self.child = Child(
            args,
            child_env(real_time_anchor()),
            workdir / "fakes.log",
            cwd=workdir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cpus=Pinning.others,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ready = json.loads(self._next(READY_TIMEOUT))
        except BaseException:
            self.child.stop()
            raise
        self.settings: dict[str, str] = ready["settings"]
        self.file: dict[str, Any] = ready["file"]
        self.slack_base = self.settings["SLACK_API_URL"].removesuffix("/api/")

    def _read(self) -> None:
        stdout = self.child.proc.stdout
        assert stdout is not None
        try:
            for raw in stdout:
                self._lines.put(raw.decode())
        except (OSError, ValueError):
            pass  # closed under us by stop()
        self._lines.put("")  # EOF

    def _next(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"the fakes did not answer:\n{self.child.tail()}") from None
        if not line:
            raise RuntimeError(f"the fakes exited:\n{self.child.tail()}")
        return line

    def ask(self, op: str, **fields: Any) -> Any:
        stdin = self.child.proc.stdin
        assert stdin is not None
        stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
        stdin.flush()
        return json.loads(self._next(ANSWER_TIMEOUT))

    def wait_for_slack(
        self,
        method: str,
        where: Callable[[dict[str, Any]], bool],
        since: float,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """The first ``method`` call after ``since`` (monotonic) whose params satisfy ``where``;
        ``{"at": arrival time, "params": ...}``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.ask("slack_calls", method=method, since=since):
                if where(call["params"]):
                    return dict(call)
            time.sleep(0.005)
        raise RuntimeError(f"no matching {method} within {timeout:.0f}s")

    def wait_quiet(self, quiet: float = 2.0, timeout: float = 120.0) -> bool:
        """Wait until no Slack call or Graph request arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        last = self.ask("activity")
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.ask("activity")
            if now != last:
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                return True
        return False

    def close(self) -> None:
        self.child.stop()  # closes stdin: the fakes' loop ends

    def __enter__(self) -> FakesProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    raise SystemExit(main())
