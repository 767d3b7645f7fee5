"""`make run` raises expiry warnings by itself: the embedded system as `python -m bootstrap`
starts it (schedule on), from an empty data directory, with the demo loaded.

The demo's Veilig Thuis telephony contract ends three months after the load day, so its
3-month warning is due that day; the GT framework and its call-offs ended years ago and get
no (late) warning at all. Both the GraphQL event log and the integration feed show exactly
that one warning.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from bootstrap.demo import ROLLING_CONTRACT, load_demo, months_after
from bootstrap.embedded import embedded, with_demo
from bootstrap.system import System
from contracts_schema.calendar import dutch_day
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.serve import Server
from notifier.feed import INTEGRATION_STREAM
from notifier.nats_accounts import OPERATOR_USER

WARNINGS = """{
  events(filter: {eventTypes: ["ExpiryWarningRaised"]}, first: 50) {
    nodes { aggregateId payload }
  }
}"""
EXPIRING = "nl.gt.contract.expiring.v1"
PATIENCE = 60.0  # seconds: "within a minute"


async def logged_warnings(system: System, server: Server) -> list[dict[str, Any]]:
    token = issue_token(system.settings, Role.COORDINATOR, "e2e")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post(
            "/graphql", json={"query": WARNINGS}, headers={"Authorization": f"Bearer {token}"}
        )
    body = response.json()
    assert "errors" not in body, body
    return [node["payload"] for node in body["data"]["events"]["nodes"]]


async def fed_warnings(system: System) -> list[tuple[str, dict[str, Any]]]:
    # The feed belongs to the notifier: the test inspects it as the stream administrator.
    assert system.logins is not None
    operator = await system.logins.connect(OPERATOR_USER)
    try:
        return await _fed_warnings(operator)
    finally:
        await operator.close()


async def _fed_warnings(nc: NATS) -> list[tuple[str, dict[str, Any]]]:
    js = nc.jetstream()
    try:
        last = (await js.stream_info(INTEGRATION_STREAM)).state.last_seq
    except NotFoundError:
        return []
    found = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(INTEGRATION_STREAM, seq)
        event = json.loads(msg.data or b"{}")
        if event["type"] == EXPIRING:
            found.append((str(msg.subject), event["data"]))
    return found


async def until(condition: Any, what: str) -> Any:
    """Poll `condition()` until it returns something truthy; fail after PATIENCE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not (found := await condition()):
        assert loop.time() < deadline, f"no {what} within {PATIENCE:g} s"
        await asyncio.sleep(0.2)
    return found


async def test_make_run_warns_of_the_demo_contract_ending_soon_and_of_nothing_long_ended(
    tmp_path: Path,
) -> None:
    async with embedded(tmp_path / "data", port=0, schedule=True) as (system, server):
        said: list[str] = []
        await with_demo(system, say=said.append)
        assert not [line for line in said if "refused" in line], said
        today = dutch_day(datetime.now(UTC))
        ends = months_after(today, 3).isoformat()

        logged = await until(lambda: logged_warnings(system, server), "warning in the event log")
        [warning] = logged  # one warning: nothing for the contracts that ended long ago
        assert (warning["contract_id"], warning["stage"], warning["target_date"]) == (
            ROLLING_CONTRACT,
            "3m",
            ends,
        )
        assert warning["late"] is False
        assert warning["due_on"] <= today.isoformat()

        fed = await until(lambda: fed_warnings(system), "warning on the integration feed")
        # The contracting authority's subject carries it; only this contract's warning.
        assert {data["contract_id"] for _, data in fed} == {ROLLING_CONTRACT}
        assert any(subject.startswith("gt.org.KVK-71804145.") for subject, _ in fed), fed
        assert {(d["stage"], d["target_date"]) for _, d in fed} == {("3m", ends)}

        # A `make run` on a later day finds the demo there, its contract with the first dates.
        later = await load_demo(
            CommandBus(system.nc), say=said.append, today=today + timedelta(days=40)
        )
        assert later.new == 0
        assert not [line for line in said if "refused" in line], said
