"""fresh23: a request's read-your-writes wait, said in its `Server-Timing` header.

A query that names a consistency token its read model has not reached waits for it; the answer
says how long (`gt-ryw`, naming the read model), when the wait began, when the answer was
ready, and when the request arrived (wall clock): the freshness benchmark splits the token
query's time in the gateway by them. A follower (the gateway beside a projector process) also
says when it heard the announcement that ended the wait (`gt-heard`). A request without a token
carries no such header.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.commands import consistency_token
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import CommandMetadata, EventStore, NewEvent
from gateway.projections import ContractsProjection
from gateway.token_waits import TokenWaits
from tests.integration.gateway.harness import start_gateway
from tests.integration.gateway.history import load_gt_mobile
from tests.integration.gateway.test_token13_waits_only_what_it_reads import (
    CONTRACT_ONLY,
    FRAMEWORK,
    Held,
    runner_of,
)
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals


def metrics(header: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        found[name] = {
            q.split("=", 1)[0]: q.split("=", 1)[1].strip('"') for q in params if "=" in q
        }
    return found


async def test_a_token_query_that_waited_says_so_in_server_timing(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> None:
    g = await start_gateway(nats_client, event_store, sqlite_url, consistency_timeout=60.0)
    try:
        await g.settle(await load_gt_mobile(g))
        contracts = Held(runner_of(g, ContractsProjection))
        try:
            amended = await g.given(
                "contract",
                "ContractAmended",
                {"contract_id": FRAMEWORK, "amended_on": "2020-06-01", "summary": "Price index"},
                on=date(2020, 6, 1),
            )
            assert await asyncio.to_thread(contracts.holding.wait, 30), "no batch held"
            assert g.client is not None
            headers = {"Authorization": f"Bearer {g.token('coordinator')}"}
            variables = {"id": FRAMEWORK, "t": consistency_token(amended)}
            before = time.time()
            answer = asyncio.ensure_future(
                g.client.post(
                    "/graphql",
                    json={"query": CONTRACT_ONLY, "variables": variables},
                    headers=headers,
                )
            )
            await asyncio.wait_for(contracts.asked.wait(), 60)  # the query waits for it
            contracts.release()
            response = await answer
        finally:
            contracts.release()
        plain = await g.client.post(
            "/graphql",
            json={"query": CONTRACT_ONLY, "variables": {"id": FRAMEWORK}},
            headers=headers,
        )
    finally:
        await g.stop()
    assert response.json()["data"]["contract"]["lastAmendment"] == "Price index"
    timing = metrics(response.headers["server-timing"])
    assert timing["gt-ryw"]["desc"] == ContractsProjection().key  # the read model waited for
    arrived = float(timing["gt-arrived"]["desc"])
    assert before <= arrived <= time.time()
    began, waited = float(timing["gt-ryw-began"]["dur"]), float(timing["gt-ryw"]["dur"])
    assert 0 <= began <= began + waited <= float(timing["gt-answered"]["dur"])
    assert "gt-heard" not in timing  # the runners here apply: nothing announced was heard
    # No token named: nothing to say.
    assert plain.json()["data"]["contract"]["lastAmendment"] == "Price index"
    assert "server-timing" not in plain.headers


async def test_a_followers_wait_says_when_it_heard_the_announcement_that_ended_it(
    nats_client: NATS, fixed_clock: FixedClock, sqlite_url: str
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    history = await store.load(LEDGER, "ledger", "l1")
    event = NewEvent("EntryRecorded", 1, {"amount": 5}, datetime(2020, 1, 1, tzinfo=UTC))
    stored = await store.append(history, [event], CommandMetadata("c1", "test", "c1"))
    engine = make_engine(sqlite_url)
    follower = ProjectionRunner(nats_client, engine, LedgerTotals(), follow=True)
    await follower.start()  # no projector yet: the write is not applied
    projector = ProjectionRunner(nats_client, engine, LedgerTotals())
    try:
        waits = TokenWaits(timeout=120)
        waits.add(consistency_token(stored))
        arrived = time.time()
        waiting = asyncio.ensure_future(waits.reach({LedgerTotals: follower}, [LedgerTotals]))
        await asyncio.sleep(0)  # the wait begins before anything is applied
        assert not waiting.done()
        await projector.start()
        await asyncio.wait_for(waiting, 120)
        answered = time.time()
    finally:
        await follower.stop()
        await projector.stop()
        engine.dispose()
    assert follower.checkpoint_looks == 0  # woken by the announcement, not the checkpoints
    [waited] = waits.waited
    assert waited.keys == (LedgerTotals().key,)
    assert waited.heard is not None
    assert arrived <= waited.began <= waited.heard <= waited.ended <= answered
    from gateway.token_waits import server_timing  # (fresh23's)

    timing = metrics(server_timing(arrived, waits, answered))
    assert set(timing) == {"gt-arrived", "gt-ryw", "gt-ryw-began", "gt-heard", "gt-answered"}
    heard = float(timing["gt-heard"]["dur"])
    assert float(timing["gt-ryw-began"]["dur"]) <= heard <= float(timing["gt-answered"]["dur"])
