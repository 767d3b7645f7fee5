"""The servers a benchmark run needs, started as local processes, and the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from eventstore.nats_launcher import NatsServer, nats_server_binary
from eventstore.pg_launcher import PostgresCluster, pg_bin


@contextlib.contextmanager
def nats_server() -> Iterator[NatsServer]:
    store = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    server = NatsServer(store).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[NATS]:
    nc = await nats.connect(url, max_reconnect_attempts=-1, connect_timeout=5)
    try:
        yield nc
    finally:
        await nc.close()


@contextlib.contextmanager
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _run(*args: str) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({type(exc).__name__})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="utf-8") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    try:
        pg = _run(pg_bin("postgres"), "--version")
    except RuntimeError:
        pg = "not installed"
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "nats_server": _run(nats_server_binary(), "--version"),
        "postgresql": pg,
        "sqlite": sqlite3.sqlite_version,
        "wrk": _run("wrk", "--version") if shutil.which("wrk") else "not installed",
    }
