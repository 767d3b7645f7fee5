"""A nats-server started by a test dies with the test process, however that process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

START_AND_HANG = """
import sys, time
from pathlib import Path
from eventstore.testing.nats_server import NatsServer
server = NatsServer(Path(sys.argv[1])).start()
print(server.jetstream_info()["pid"], flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


def test_server_is_killed_when_the_test_process_is_killed(tmp_path: Path) -> None:
    test_process = subprocess.Popen(
        [sys.executable, "-c", START_AND_HANG, str(tmp_path / "store")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert test_process.stdout is not None
        server_pid = int(test_process.stdout.readline())
        assert alive(server_pid)
        os.kill(test_process.pid, signal.SIGKILL)  # as pytest-timeout's hard kill does
        test_process.wait(timeout=10)
        deadline = time.monotonic() + 60
        while alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server_pid), f"nats-server {server_pid} outlived its test process"
    finally:
        test_process.kill()
        test_process.wait()
