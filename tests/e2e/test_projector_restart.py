"""A projector process that exits while `make run` serves: started again, as compose restarts
a container, and resumed from its checkpoints; once its restarts are spent, the audit
projector's exit does not stop the run: the rest serves, the gateway's health reports it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap.embedded import embedded
from bootstrap.projector_child import RESTARTS
from eventstore.settings import HEARTBEAT_ENV
from eventstore.testing.nats_server import free_port
from gateway.auth import Role, issue_token
from tests.support.make_run import (
    BOUND,
    MARKS,
    children,
    cleanup,
    ended,
    parts_running,
    said,
    start,
    wait_gone,
)

pytestmark = MARKS

AUDIT = "projector --read-models audit"
REGISTER = """mutation($i: RegisterOrganisationInput!) { registerOrganisation(input: $i) {
  __typename ... on CommandSucceeded { consistencyToken } ... on DomainError { code message } } }"""
ORGANISATION = (
    "query($c: String!, $t: String) { organisation(code: $c, consistencyToken: $t) { name } }"
)
ENTITIES = '{ entitiesAsOf(aggregateType: "organisation", first: 500) { aggregateId } }'
HEALTH = "{ health { ok problems } }"
HEARTBEAT = "1"  # GT_PROJECTION_HEARTBEAT_SECONDS in the out-of-restarts test


def ask(url: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def entities_once_reached(url: str, token: str) -> list[dict[str, Any]]:
    """`entitiesAsOf`, asked again while the gateway answers HORIZON_NOT_REACHED (its bounded
    wait for the audit projector is shorter than a restarted projector's catch-up on a busy
    machine; the answer it documents is "retry shortly"), until BOUND."""
    deadline = time.monotonic() + BOUND
    while True:
        response = httpx.post(
            f"{url}/graphql",
            json={"query": ENTITIES},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        body: dict[str, Any] = response.json()
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
        if codes != ["HORIZON_NOT_REACHED"] or time.monotonic() > deadline:
            assert "errors" not in body, body
            return list(body["data"]["entitiesAsOf"])
        time.sleep(0.5)


def register(url: str, token: str, code: str) -> str:
    """Register `code`; the reply's consistency token."""
    i = {"commandId": f"reg-{code}", "code": code, "name": f"Org {code}", "kind": "SUPPLIER"}
    reply = ask(url, token, REGISTER, i=i)["registerOrganisation"]
    assert reply["__typename"] == "CommandSucceeded", reply
    return str(reply["consistencyToken"])


def dev_token(data: Path, role: str) -> str:
    """The dev token `make run` printed for `role`."""
    for line in (data / "out.log").read_text().splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == role:
            return words[1]
    raise AssertionError(f"make run printed no {role} token")


def another(system: Any, part: str, before: int) -> int:
    """Wait until `part` runs as a child again, as a process other than `before`."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        assert system.poll() is None, "make run ended"
        found = [
            pid
            for pid, cmd in children(system.pid).items()
            if cmd.rstrip().endswith(f"bootstrap.serve {part}") and pid != before
        ]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"{part} was not started again: {children(system.pid)}")


def test_an_audit_projector_that_exits_is_started_again(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Its own writes are what it reads back: no demo needed.
    system = start(tmp_path, port, PYTHONUNBUFFERED="1", GT_DEMO="false")
    everything: list[int] = []
    try:
        parts = parts_running(system)
        said(system, tmp_path, "Ctrl-C stops.")
        everything = list(children(system.pid))
        token = dev_token(tmp_path, Role.COORDINATOR.value)
        register(url, token, "KVK-71000001")
        assert "KVK-71000001" in {
            r["aggregateId"] for r in ask(url, token, ENTITIES)["entitiesAsOf"]
        }

        os.kill(parts[AUDIT], signal.SIGKILL)
        again = another(system, AUDIT, parts[AUDIT])
        everything.append(again)
        # The run went on serving; the restarted projector resumed from its checkpoint in
        # audit.db: entitiesAsOf (which waits for the audit's history to hold the present)
        # answers a write made after the restart, with the one before it.
        register(url, token, "KVK-71000002")
        codes = {r["aggregateId"] for r in entities_once_reached(url, token)}
        assert {"KVK-71000001", "KVK-71000002"} <= codes

        system.send_signal(signal.SIGTERM)
        err = ended(system, tmp_path, BOUND)
        assert system.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert (
            f"the audit projector process exited with code {-signal.SIGKILL}; starting it"
            f" again in 1s (restart 1 of {RESTARTS})"
        ) in err.splitlines(), err[-3000:]
        assert [line for line in err.splitlines() if line.startswith("error")] == []
        assert wait_gone(everything) == []
    finally:
        cleanup(system, everything)


async def test_an_audit_projector_out_of_restarts_leaves_the_rest_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The projectors beat every second and a follower reports 3 s of silence (suite23): the
    # gateway process and the projectors the system starts get the setting from this
    # environment, as make run's parts do. By default the silence is 15 s of real waiting.
    monkeypatch.setenv(HEARTBEAT_ENV, HEARTBEAT)
    async with embedded(tmp_path / "data", port=0, processes=True) as (system, server):
        assert system.audit_projector is not None
        assert system.audit_projector.restarts == RESTARTS  # make run's layout restarts it
        system.audit_projector.restarts = 0  # as after its last restart of the window
        failed = asyncio.ensure_future(system.failure())
        token = issue_token(system.settings, Role.COORDINATOR, "e2e-projector-restart")
        os.kill(system.audit_projector.pid, signal.SIGKILL)
        assert await system.audit_projector.exited() == -signal.SIGKILL
        # The gateway process hears the audit projector's silence and says so ...
        problems = await asyncio.to_thread(silence_reported, server.url, token)
        assert [p for p in problems if audit_silent(p)], problems
        # ... while the run serves: a write, read with its token, as before.
        consistency = await asyncio.to_thread(register, server.url, token, "KVK-71000003")
        read = await asyncio.to_thread(
            ask, server.url, token, ORGANISATION, c="KVK-71000003", t=consistency
        )
        assert read["organisation"] == {"name": "Org KVK-71000003"}
        assert not failed.done()  # the run was not stopped
        failed.cancel()
        await asyncio.gather(failed, return_exceptions=True)


def audit_silent(problem: str) -> bool:
    return "audit_history" in problem and "is the projector process running" in problem


def silence_reported(url: str, token: str) -> list[str]:
    """Ask the gateway's health until it reports the audit projector's silence (within
    BOUND); the problems then. Another read model's problem alone does not end the wait: at
    a 3 s silence on a loaded machine the gateway's own projector may be reported first."""
    deadline = time.monotonic() + BOUND
    problems: list[str] = []
    while time.monotonic() < deadline:
        health = ask(url, token, HEALTH)["health"]
        problems = list(health["problems"])
        if not health["ok"] and any(audit_silent(p) for p in problems):
            return problems
        time.sleep(0.25)
    raise AssertionError(f"the gateway's health never reported the audit projector: {problems}")
