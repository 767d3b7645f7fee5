"""`make run` (`python -m bootstrap`) as a process of a test: started on a free port with its
data under a temporary directory, its parts found as its children in /proc (Linux), and
whatever it started cleaned up after. For tests/e2e; every bound here is a timeout for a
loaded machine, not a figure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from audit.wiring import ENDPOINTS_FILE

# The gateway's read models and the audit's history each in a projector process of its own.
PARTS = (
    "registry",
    "enrolment",
    "notifier run",
    "projector --read-models gateway",
    "projector --read-models audit",
    "gateway",
)
BOUND = 240.0  # seconds: a start on a loaded machine
# The marks of a test module that starts (and stops) whole `make run`s.
MARKS = [
    pytest.mark.jetstream,  # it starts (and stops) the embedded nats-server
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; the parent-death signal"),
    pytest.mark.timeout(600),  # a whole `make run` started and stopped, on a loaded machine
]


# Each process a test has found, by pid, with its start time then. This machine's pids wrap
# (pid_max 32768) while other suites run beside: a pid whose process has ended can name another
# process within seconds (a pytest worker of another run was killed that way), so a process is
# "alive", and is killed, only while its pid still has the start time it was found with.
_FOUND: dict[int, int] = {}


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _found(pid: int) -> int:
    """Remember `pid` as the process it is now; `pid`."""
    _FOUND[pid] = int(_stat(pid)[19])  # starttime, clock ticks after boot
    return pid


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                _found(int(entry.name))
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie, and still the process it was found as (see `_FOUND`)."""
    try:
        fields = _stat(pid)
    except OSError:
        return False
    return fields[0] != "Z" and _FOUND.get(pid, int(fields[19])) == int(fields[19])


def start(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    """`python -m bootstrap` serving GraphQL on `port`, its data in `data`/d, its output in
    `data`/out.log and `data`/err.log, with `env` added to this environment."""
    # Output to files: a pipe nobody reads while it runs would fill and stall the parts.
    with open(data / "out.log", "w") as out, open(data / "err.log", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bootstrap"],
            env={**os.environ, "GT_HTTP_PORT": str(port), "GT_DATA_DIR": str(data / "d"), **env},
            stdout=out,
            stderr=err,
            text=True,
        )


def ended(system: subprocess.Popen[str], data: Path, timeout: float) -> str:
    """Wait for the run to end; its stderr. Not ended in time: a failure that shows what the
    run said (the bare TimeoutExpired of CI44 told nothing of where the stop stood)."""
    try:
        system.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        said = (data / "err.log").read_text()[-4000:]
        raise AssertionError(
            f"the run did not end within {timeout:g} s; it said:\n{said}"
        ) from None
    return (data / "err.log").read_text()


def parts_running(
    system: subprocess.Popen[str], parts: tuple[str, ...] = PARTS, every: float = 0.5
) -> dict[str, int]:
    """Wait until each of `parts` runs as a child (the notifier starts once the demo is in),
    looking every `every` seconds; the pid of each."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        assert system.poll() is None, "make run ended at start"
        found = {
            part: pid
            for pid, cmd in children(system.pid).items()
            for part in parts
            if cmd.rstrip().endswith(f"bootstrap.serve {part}")
        }
        if len(found) == len(parts):
            return found
        time.sleep(every)
    raise AssertionError(f"not every part started: {children(system.pid)}")


def serving(system: subprocess.Popen[str], port: int) -> None:
    """Wait until the run's gateway answers /healthz on `port`."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        assert system.poll() is None, "make run ended at start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"make run did not serve on {port}")


def started(system: subprocess.Popen[str], data: Path, every: float = 0.05) -> None:
    """Wait until every part the run starts at once is ready (`System.start` returned: the run
    wrote its endpoints file); the reference data and the demo load next."""
    deadline = time.monotonic() + BOUND
    while not (data / "d" / ENDPOINTS_FILE).exists():
        assert system.poll() is None, "make run ended at start"
        assert time.monotonic() < deadline, "make run's parts were not ready"
        time.sleep(every)


def said(system: subprocess.Popen[str], data: Path, line: str) -> None:
    """Wait until the run (started with PYTHONUNBUFFERED=1) has printed `line`."""
    deadline = time.monotonic() + BOUND
    while line not in (data / "out.log").read_text().splitlines():
        assert system.poll() is None, f"make run ended before it said {line!r}"
        assert time.monotonic() < deadline, f"make run did not say {line!r}"
        time.sleep(0.05)


def wait_gone(pids: list[int], timeout: float = 60.0) -> list[int]:
    """Wait until none of `pids` runs (or `timeout`); those still running."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def using(data: Path) -> list[int]:
    """The processes with `data` in their environment (each part has a database there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data).encode() in (entry / "environ").read_bytes():
                    found.append(_found(int(entry.name)))
            except OSError:
                continue
    return found


def cleanup(system: subprocess.Popen[str], pids: list[int]) -> None:
    """Kill the run and each of `pids` still running (whatever a failed test left)."""
    if system.poll() is None:
        system.kill()
        system.wait(timeout=30)
    for pid in pids:
        if alive(pid):  # the same process (a pid reused since would be another's)
            os.kill(pid, signal.SIGKILL)
