"""How long each command waits for a dead network: a proxy that accepts and never answers.

Every outbound call goes through ``HTTPS_PROXY`` pointing at a loopback socket that accepts
connections and never sends a byte (the first-hour report in issue 14: doctor 68 s, check 68 s,
run 48 s, status 21 s). Each command runs as its own process with a complete but fake ``.env``
and the default ``APNS_NETWORK_TIMEOUT``; wall time is measured around the process.
Target: doctor, status and check within 20 s, inspect-cert within 2 s.

    python -m bench.bench_dead_host
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.certgen import make_push_cert

ENV = """\
SLACK_BOT_TOKEN=xoxb-1234-5678-abcdefghijkl
SLACK_APP_TOKEN=xapp-1-A1234-5678-abcdef
APNS_CHANNEL=C0APNSOPS1
APNS_APPROVERS=U0LEADONE1
AZURE_TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47
AZURE_CLIENT_ID=0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f
AZURE_CLIENT_SECRET=not-a-real-secret
APNS_DB_PATH={db}
"""
COMMANDS = {
    "doctor": (["doctor"], 20.0),
    "status": (["status"], 20.0),
    "status --json": (["status", "--json"], 20.0),
    "check": (["check"], 20.0),
    "run": (["run"], 20.0),
    "inspect-cert": (["inspect-cert", "cert.pem"], 2.0),
}


def main() -> int:
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)  # accepts, never answers
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / ".env").write_text(ENV.format(db=work / "apns-bot.sqlite3"))
        (work / "cert.pem").write_bytes(make_push_cert().pem)
        keep = ("PATH", "HOME", "LANG")
        env = {k: os.environ[k] for k in keep if k in os.environ} | {"HTTPS_PROXY": proxy}
        print(f"{'command':<16}{'seconds':>8}  {'target':>6}  exit  last line")
        for name, (argv, target) in COMMANDS.items():
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "bot", *argv],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            took = time.monotonic() - started
            lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
            last = lines[-1][:70] if lines else ""
            ok = took <= target
            failed += not ok
            print(f"{name:<16}{took:>8.1f}  {target:>6.0f}  {done.returncode:>4}  {last}")
    listener.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
