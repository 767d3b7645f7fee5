"""Drive an HTTP endpoint with wrk (a separate process) and read its figures."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

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


def run_wrk(url: str, seconds: int, connections: int, script: str | None = None) -> WrkResult:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    return parse(out.stdout)
