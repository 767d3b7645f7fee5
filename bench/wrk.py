"""Drive an HTTP endpoint with wrk (a separate process) and read its figures."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse(output: str) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (rate and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)) + sum(
        int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
    )
    return WrkResult(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors)


def _args(url: str, seconds: int, connections: int, script: str | None) -> list[str]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    return [*args, "-s", script, url] if script else [*args, url]


def run_wrk(url: str, seconds: int, connections: int, script: str | None = None) -> WrkResult:
    out = subprocess.run(
        _args(url, seconds, connections, script),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse(out.stdout)


def run_wrk_sampled(
    url: str, seconds: int, connections: int, script: str | None, sample: Callable[[], T]
) -> tuple[WrkResult, T]:
    """`run_wrk`, with `sample()` taken halfway through the run (e.g. how the servers hold
    its connections)."""
    with subprocess.Popen(
        _args(url, seconds, connections, script), stdout=subprocess.PIPE, text=True
    ) as wrk:
        time.sleep(seconds / 2)
        seen = sample()
        out, _ = wrk.communicate(timeout=seconds + 60)
    if wrk.returncode:
        raise subprocess.CalledProcessError(wrk.returncode, wrk.args, out)
    return parse(out), seen


def connections_held(port: int, pids: list[int]) -> list[int]:
    """How many established connections to local `port` each process holds (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(table):
            with open(table) as rows:
                for row in (line.split() for line in rows.readlines()[1:]):
                    if row[3] == "01" and int(row[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(row[9])
    held = []
    for pid in pids:
        count = 0
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            count += link.startswith("socket:[") and link[8:-1] in inodes
        held.append(count)
    return held
