"""`make run` as compose runs the system: the registry, enrolment and notifier services, the
projector and the gateway each in a process of its own, started by `python -m bootstrap`.
A SIGTERM stops them all and the run exits 0; killed outright, it takes them with it; a child
that cannot start, or dies while the data loads, is one clear error naming it, and nothing is
left running."""

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

pytestmark = [
    pytest.mark.jetstream,  # it starts (and stops) the embedded nats-server
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; the parent-death signal"),
    pytest.mark.timeout(600),  # a whole `make run` started and stopped, on a loaded machine
]

PARTS = ("registry", "enrolment", "notifier run", "projector", "gateway")
BOUND = 240.0  # seconds: a bound for a loaded machine, not a figure


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    # Output to files: a pipe nobody reads while it runs would fill and stall the parts.
    with open(data / "out.log", "w") as out, open(data / "err.log", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bootstrap"],
            env={**os.environ, "GT_HTTP_PORT": str(port), "GT_DATA_DIR": str(data / "d"), **env},
            stdout=out,
            stderr=err,
            text=True,
        )


def _ended(system: subprocess.Popen[str], data: Path, timeout: float) -> str:
    """Wait for the run to end; its stderr."""
    system.wait(timeout=timeout)
    return (data / "err.log").read_text()


def _parts_running(system: subprocess.Popen[str]) -> dict[str, int]:
    """Wait until every part runs as a child (the notifier starts once the demo is in)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        assert system.poll() is None, "make run ended at start"
        children = _children(system.pid)
        parts = {
            part: pid
            for pid, cmd in children.items()
            for part in PARTS
            if cmd.rstrip().endswith(f"bootstrap.serve {part}")
        }
        if len(parts) == len(PARTS):
            return parts
        time.sleep(0.5)
    raise AssertionError(f"not every part started: {_children(system.pid)}")


def _wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def _cleanup(system: subprocess.Popen[str], pids: list[int]) -> None:
    if system.poll() is None:
        system.kill()
        system.wait(timeout=30)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_each_part_in_its_own_process_stopped_by_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    # GT_HTTP_WORKERS is for the gateway's own deployment: make run says so and serves with
    # one gateway process (it hands one socket to one process, not to a supervisor).
    system = _start(tmp_path, port, GT_HTTP_WORKERS="2")
    parts: dict[str, int] = {}
    try:
        parts = _parts_running(system)
        # The gateway process answers on the port the run bound, over the demo data.
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ __typename }"},
            timeout=30,
        )
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert _children(parts["gateway"]) == {}, "the gateway forked workers"
        system.send_signal(signal.SIGTERM)
        err = _ended(system, tmp_path, 120)
        assert system.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        workers = [line for line in err.splitlines() if "GT_HTTP_WORKERS" in line]
        assert workers == [
            "GT_HTTP_WORKERS=2 is not used by make run: it serves GraphQL with one gateway process"
        ], err[-3000:]
        assert _wait_gone(list(parts.values())) == []
    finally:
        _cleanup(system, list(parts.values()))


def test_killed_outright_it_takes_every_part_with_it(tmp_path: Path) -> None:
    system = _start(tmp_path, _free_port())
    everything: list[int] = []
    try:
        parts = list(_parts_running(system).values())
        everything = list(_children(system.pid))  # the parts and the nats-server
        system.send_signal(signal.SIGKILL)
        system.wait(timeout=30)
        assert _wait_gone(parts) == [], "a part outlived the run"
    finally:
        _cleanup(system, everything)


def _using(data: Path) -> list[int]:
    """The processes with `data` in their environment (each part has a database there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data).encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_part_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    # The gateway process refuses RS256 without a public key (exit 2, naming it).
    system = _start(tmp_path, _free_port(), GT_JWT_ALGORITHM="RS256")
    try:
        err = _ended(system, tmp_path, BOUND)
        assert system.returncode not in (0, None)
        assert "GT_JWT_PUBLIC_KEY" in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert errors == ["error: the gateway process exited with code 2 at start"], err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert _wait_gone(_using(tmp_path / "d")) == [], "a part of the failed start still runs"
    finally:
        _cleanup(system, _using(tmp_path / "d"))


def test_a_part_that_dies_while_the_data_loads_is_one_clear_error(tmp_path: Path) -> None:
    # The registry is killed once the gateway's process is there: the reference data or the
    # demo is loading then (or, on a slow start, just loaded), and its commands go unanswered.
    system = _start(tmp_path, _free_port())
    try:
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            assert system.poll() is None, "make run ended at start"
            parts = {
                part: pid
                for pid, cmd in _children(system.pid).items()
                for part in ("registry", "gateway")
                if cmd.rstrip().endswith(f"bootstrap.serve {part}")
            }
            if len(parts) == 2:
                break
            time.sleep(0.05)
        os.kill(parts["registry"], signal.SIGKILL)
        err = _ended(system, tmp_path, BOUND)
        assert system.returncode not in (0, None)
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert errors == [
            f"error: the registry process exited with code {-signal.SIGKILL}; the others stopped"
        ], err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert _wait_gone(_using(tmp_path / "d")) == [], "a part of the failed run still runs"
    finally:
        _cleanup(system, _using(tmp_path / "d"))
