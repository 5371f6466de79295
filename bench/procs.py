"""Processes under test: spawn on loopback, wait until they answer, read their memory, stop them.

Every server the benchmarks measure runs in its own process (the load generator must not steal its
GIL). ``Child`` is a context manager: whatever happens, the process is terminated, then killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from bench.payloads import help_command

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 5.0


class Pinning:
    """Which CPUs the server under test gets, and which the load generator and the fakes share.

    With two or more CPUs the server gets the first to itself: on a 2-core machine the load
    generator and the fakes (whose work would be Slack's and Microsoft's in production) would
    otherwise take turns on the server's core, and apns-bot, which makes the fakes work, would be
    charged for their CPU while the bare app, which never calls them, would not.
    """

    server: set[int] | None = None
    others: set[int] | None = None

    @classmethod
    def enable(cls) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            cls.server, cls.others = {cpus[0]}, set(cpus[1:])
            os.sched_setaffinity(0, cls.others)  # this process: the load generator


def free_port() -> int:
    """A free loopback port (bound and released; nothing else on this machine races for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def child_env(settings: dict[str, str]) -> dict[str, str]:
    """A clean environment: the settings given and what Python needs, nothing from the caller's
    shell (a stray SLACK_* or AZURE_* there must not point a benchmark at a real service)."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TMPDIR"}}
    env["PYTHONPATH"] = str(REPO)
    env.update(settings)
    return env


def real_time_anchor() -> dict[str, str]:
    """The fakes' anchor (``APNS_TEST_NOW``, ``tests/clock.py``) set to the real now: they serve a
    bot in its own process that reads the real clock, so their certificate dates must be offsets
    from that, not from the test suite's fixed instant."""
    return {"APNS_TEST_NOW": datetime.now(UTC).isoformat(timespec="seconds")}


class Child:
    """A subprocess with its output in a log file; stopped in ``__exit__`` (SIGTERM, then SIGKILL)."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log: Path,
        *,
        cwd: Path,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        self.args = args
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(  # a fixed argv of our own interpreter, no shell
            args,
            env=env,
            cwd=cwd,
            stdin=stdin,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log,
        )
        if cpus:
            # set before the child has started any thread: every thread it starts inherits it
            os.sched_setaffinity(self.proc.pid, cpus)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                # the bot drains its background queue on SIGTERM; a benchmark need not wait for it
                self.proc.kill()
                self.proc.wait(STOP_GRACE_SECONDS)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def spawn_bot(settings: dict[str, str], port: int, workdir: Path) -> Child:
    """apns-bot exactly as ``apns-bot run --http`` starts it (its own CLI, its own process)."""
    args = [sys.executable, "-m", "bot", "run", "--http", "--host", HOST, "--port", str(port)]
    # cwd is a scratch folder so a developer's ./.env cannot leak into the measurement
    log = workdir / f"bot-{port}.log"
    return Child(args, child_env(settings), log, cwd=workdir, cpus=Pinning.server)


def spawn_bare(port: int, workdir: Path) -> Child:
    """A bare Bolt app whose listeners only acknowledge, on the same server (``bench.serve``)."""
    args = [sys.executable, "-m", "bench.serve", "--host", HOST, "--port", str(port)]
    log = workdir / f"bare-{port}.log"
    return Child(args, child_env({}), log, cwd=workdir, cpus=Pinning.server)


def events_url(port: int) -> str:
    return f"http://{HOST}:{port}/slack/events"


def wait_answering(child: Child, port: int, timeout: float = 30.0) -> float:
    """Poll with a signed ``/apns help`` until it is answered 200; the time since spawn, in s."""
    url = events_url(port)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.args[2]} exited early:\n{child.tail()}")
            body, headers = help_command()
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TransportError:
                time.sleep(0.01)
                continue
            if response.status_code == 200:
                return time.monotonic() - child.started
            time.sleep(0.01)
    raise RuntimeError(f"no answer on {url} within {timeout:.0f}s:\n{child.tail()}")


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB (10^6 bytes), from ``/proc/<pid>/status``."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) * 1024 / 1e6  # the kernel's "kB" are KiB
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (all its threads), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")
