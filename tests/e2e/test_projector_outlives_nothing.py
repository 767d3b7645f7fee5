"""`make run` killed outright (SIGKILL, out of memory) takes its projector child with it: a
projector left behind would lead a second `make run`'s read models on the same SQLite file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.jetstream  # it starts (and stops) the embedded nats-server


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_projector_ends_when_the_system_is_killed(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    system = subprocess.Popen(
        [sys.executable, "-m", "bootstrap"],
        env={**os.environ, "GT_HTTP_PORT": str(port), "GT_DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 240  # a bound for a loaded machine, not a figure
        while time.monotonic() < deadline:
            assert system.poll() is None, "make run ended at start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        children = _children(system.pid)
        projector = [pid for pid, cmd in children.items() if "bootstrap.serve projector" in cmd]
        assert len(projector) == 1, children

        system.send_signal(signal.SIGKILL)
        system.wait(timeout=30)

        deadline = time.monotonic() + 60
        while _alive(projector[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(projector[0]), "the projector outlived the system"
    finally:
        if system.poll() is None:
            system.kill()
            system.wait(timeout=30)
        for pid in children:  # whatever else it had started (the embedded nats-server)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
