"""`make run`'s audit history: a database file and a projector process of its own.

On SQLite the audit's history (the row versions `entitiesAsOf` reads) took the one writer
and the GIL from the read models a read-your-writes waits for; `make run` keeps it in
`audit.db`, applied by `python -m bootstrap.serve projector --read-models audit`. The gateway
reads it there and follows that projector's announcements; a restart resumes it from its
checkpoint in that file; the audit CLI finds the file through the running system's endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from bootstrap.embedded import embedded
from bootstrap.projector_child import AUDIT_NICENESS_ENV
from bootstrap.system import System
from gateway.serve import Server
from tests.support import embedded_graphql as graphql
from tests.support.embedded_graphql import HEALTH, REGISTER

ENTITIES = '{ entitiesAsOf(aggregateType: "organisation", first: 500) { aggregateId } }'


async def ask(server: Server, system: System, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await graphql.ask(http, system, query, "e2e-audit-projector", **variables)


async def register(server: Server, system: System, code: str) -> None:
    i = {"commandId": f"reg-{code}", "code": code, "name": f"Org {code}", "kind": "SUPPLIER"}
    reply = (await ask(server, system, REGISTER, i=i))["registerOrganisation"]
    assert reply["__typename"] == "CommandSucceeded", reply


async def organisations_as_of_now(server: Server, system: System) -> set[str]:
    rows = (await ask(server, system, ENTITIES))["entitiesAsOf"]
    return {row["aggregateId"] for row in rows}


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def audit_checkpoints(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT stream, seq FROM projection_checkpoints WHERE projection LIKE 'audit%'"
        ).fetchall()
    return {stream: int(seq) for stream, seq in rows}


def thread_niceness(pid: int) -> set[int]:
    """The niceness of every thread of process `pid` (a Linux niceness is a thread's)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            stat = (task / "stat").read_text()
            found.add(int(stat.rsplit(")", 1)[1].split()[16]))
    return found


async def test_the_audit_history_lives_and_is_applied_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv(AUDIT_NICENESS_ENV, "10")  # reaches the audit's projector (fresh24)
    async with embedded(data, port=0) as (system, server):
        assert system.projector is not None
        assert system.audit_projector is not None
        assert system.audit_projector.pid not in (os.getpid(), system.projector.pid)
        await register(server, system, "KVK-70000001")
        # Every thread of the audit's projector runs nicer than the rest, as set (fresh24),
        # those of the gateway's projector as this process.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert thread_niceness(system.audit_projector.pid) == {min(ours + 10, 19)}
        assert thread_niceness(system.projector.pid) == {ours}
        # entitiesAsOf waits for the audit's history to hold every stored event: read from
        # the audit's own database, its position heard from the audit's projector.
        assert "KVK-70000001" in await organisations_as_of_now(server, system)
        # The audit CLI finds the file through the running system's endpoints.
        cli = CliRunner(env={"GT_DATA_DIR": str(data)})
        args = ["verify", "--projection", "audit_history"]
        result = await asyncio.to_thread(cli.invoke, audit_app(), args)
        assert result.exit_code == 0, result.output
        before = audit_checkpoints(data / "audit.db")
    audit_tables = {t for t in tables(data / "audit.db") if t.startswith("audit_history")}
    assert audit_tables
    assert not {t for t in tables(data / "read-models.db") if t.startswith("audit_history")}
    assert before
    assert all(p > 0 for p in before.values())

    # A restart resumes from the checkpoint in audit.db: nothing lost, nothing applied twice.
    async with embedded(data, port=0) as (system, server):
        await register(server, system, "KVK-70000002")
        assert {"KVK-70000001", "KVK-70000002"} <= await organisations_as_of_now(server, system)
    after = audit_checkpoints(data / "audit.db")
    assert all(after[stream] >= position for stream, position in before.items())


async def test_an_audit_projector_that_exits_is_reported_by_health(tmp_path: Path) -> None:
    async with embedded(tmp_path / "data", port=0) as (system, server):
        assert system.audit_projector is not None
        assert (await ask(server, system, HEALTH))["health"] == {"ok": True, "problems": []}
        os.kill(system.audit_projector.pid, signal.SIGKILL)
        assert await system.audit_projector.exited() == -signal.SIGKILL
        health = (await ask(server, system, HEALTH))["health"]
    assert health["ok"] is False
    assert health["problems"] == [
        f"the audit projector process exited with code {-signal.SIGKILL}; the read models no"
        " longer advance"
    ]
