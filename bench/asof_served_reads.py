"""`python -m bench.asof_served_reads DB:EVENTS ... --only ROOT`: what a served gateway reads
from its SQLite file per request, by system call (asof24e).

For each kept read model, the suite's gateway (`bench.gateway_app` under uvicorn, as the as-of
suite serves it) is started with its connections' page cache and memory map set
(`--cache-mib`, `--mmap-mib`: `PRAGMA cache_size`, `mmap_size` through `bench.gateway_app`'s
BENCH_SQLITE_PRAGMAS), asked the root's past request by wrk (the suite's 4 connections) for
`--seconds`, and traced meanwhile (`strace -f -c` attached to its process): the file opens
(`openat`: a connection opened, e.g. the pool's overflow), page reads (`pread64`) and memory
maps per answered request, and the process's CPU per request. The counts are the kernel's,
not the machine's minute: a page read a request makes is one the connection's page cache did
not hold.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time

from bench.gateway_app import PRAGMAS_ENV, SECRET_ENV, coordinator_token
from bench.suites.asof import (
    CONNECTIONS,
    EVENTS_KNOWN,
    _middle,
    describe,
    roots,
    run_wrk_patient,
)
from bench.suites.graphql import fetch, post_script, serve, stop
from eventstore.nats_launcher import free_port


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads_cpu(pid: int) -> float:
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def run(spec: str, only: str, seconds: int, cache: int, mmap: int) -> dict[str, object]:
    path, _, events = spec.partition(":")
    url = f"sqlite:///{path}"
    data = describe(url, int(events or 0))
    middle = _middle(url)
    asked_roots = roots(data, middle).items()
    name, (query, variables, as_of) = next((k, v) for k, v in asked_roots if only in k)
    asked = {**variables, "asOf": as_of}
    if query is EVENTS_KNOWN:
        asked["knownAt"] = f"{as_of}T23:59:59+00:00"
    body = json.dumps({"query": query, "variables": asked})
    secret = secrets.token_hex(32)
    token = coordinator_token(secret)
    port = free_port()
    env = {
        "BENCH_READ_MODEL_URL": url,
        SECRET_ENV: secret,
        PRAGMAS_ENV: f"cache_size=-{cache * 1024};mmap_size={mmap << 20}",
    }
    process = serve("bench.gateway_app:create", env, port, "/graphql")
    endpoint = f"http://127.0.0.1:{port}/graphql"
    script = post_script(body, token)
    try:
        for _ in range(3):  # warm, and the planner's first ANALYZE done
            fetch(endpoint, body, token)
        time.sleep(2)
        run_wrk_patient(endpoint, 3, CONNECTIONS, script)  # warm under load
        trace = tempfile.mktemp(suffix=".strace")
        tracer = subprocess.Popen(
            ["strace", "-f", "-c", "-e", "trace=openat,pread64,mmap,munmap", "-o", trace,
             "-p", str(process.pid)],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1)
        cpu = _threads_cpu(process.pid)
        result = run_wrk_patient(endpoint, seconds, CONNECTIONS, script)
        cpu = _threads_cpu(process.pid) - cpu
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
        with open(trace) as traced:
            text = traced.read()
        os.unlink(trace)
    finally:
        os.unlink(script)
        stop(process)
    requests = max(1, round(result.requests_per_s * seconds))
    calls = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", text, re.M)
    }
    row = {
        "events": int(events),
        "root": name,
        "cache_mib": cache,
        "mmap_mib": mmap,
        "requests": requests,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_us_traced": cpu * 1e6 / requests,
        **{f"{k}_per_request": v / requests for k, v in calls.items()},
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+")
    parser.add_argument("--only", required=True, action="append")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--cache-mib", type=int, nargs="+", default=[2])
    parser.add_argument("--mmap-mib", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    for only in args.only:
        for spec in args.databases:
            for cache in args.cache_mib:
                for mmap in args.mmap_mib:
                    row = run(spec, only, args.seconds, cache, mmap)
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
