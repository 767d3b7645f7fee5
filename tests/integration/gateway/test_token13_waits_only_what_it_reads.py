"""token13: a consistency token waits only for the read models the request reads.

The tenders read model is held back (its runner's next batch blocks before it folds, as a
slow or stalled projection would); a write to a tender and then to a contract is read with
the second write's token (which covers both: one stream, its later position). A query that
reads only the contracts read model answers at once with the write; one whose nested field
reads a tender waits for the tenders read model and sees its write; and when that read model
does not come in time, the nested field alone fails, naming it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from eventstore.commands import consistency_token, parse_consistency_token
from eventstore.projection import ProjectionRunner
from eventstore.store import EventStore
from gateway.projections import ContractsProjection, TendersProjection
from tests.integration.gateway.harness import Gateway, start_gateway
from tests.integration.gateway.history import load_gt_mobile

FRAMEWORK = "gt-mc1-framework"
CONTRACT_ONLY = """query ($id: String!, $t: String) {
  contract(contractId: $id, consistencyToken: $t) { lastAmendment }
}"""
# Not a compiled plan (an object field): strawberry's resolvers; the organisations read model
# reads no stream the token names.
CONTRACT_AND_AUTHORITY = """query ($id: String!, $t: String) {
  contract(contractId: $id, consistencyToken: $t) {
    lastAmendment
    contractingAuthority { name }
  }
}"""
WITH_TENDER = """query ($id: String!, $t: String) {
  contract(contractId: $id, consistencyToken: $t) {
    lastAmendment
    tender { clarifications { summary } }
  }
}"""


class Held:
    """A runner whose next batch blocks before its projection folds it, until released (its
    thread waits at most a minute, so a failing test cannot hang the suite)."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self.holding = threading.Event()  # a batch is held
        self._released = threading.Event()
        self.asked = asyncio.Event()  # a request waited for this runner
        prepare = runner.projection.prepare  # type: ignore[attr-defined]
        wait_until = runner.wait_until

        def held_prepare(dialect: Any, events: Any) -> Any:
            self.holding.set()
            self._released.wait(60)
            return prepare(dialect, events)

        async def noted_wait_until(positions: dict[str, int], timeout: float) -> bool:
            self.asked.set()
            return await wait_until(positions, timeout)

        runner.projection.prepare = held_prepare  # type: ignore[attr-defined]
        runner.wait_until = noted_wait_until  # type: ignore[method-assign]

    def release(self) -> None:
        self._released.set()


def runner_of(g: Gateway, kind: type) -> ProjectionRunner:
    return next(r for r in g.runners if type(r.projection) is kind)


@dataclass
class HeldWrite:
    gateway: Gateway
    tenders: Held
    token: str
    bearer: str

    @property
    def positions(self) -> dict[str, int]:
        return parse_consistency_token(self.token)

    def tenders_reached(self) -> bool:
        held = self.tenders.runner.positions
        return all(held.get(s, 0) >= q for s, q in self.positions.items())

    async def ask(self, query: str) -> dict[str, Any]:
        variables = {"id": FRAMEWORK, "t": self.token}
        return await self.gateway.query(query, variables, token=self.bearer)


async def hold_tenders_and_write(g: Gateway) -> HeldWrite:
    await g.settle(await load_gt_mobile(g))
    tenders = Held(runner_of(g, TendersProjection))
    await g.given(
        "tender",
        "TenderClarified",
        {"tender_id": "gt-mc1", "clarified_on": "2016-02-01", "summary": "Lot 1 explained"},
    )
    amended = await g.given(
        "contract",
        "ContractAmended",
        {"contract_id": FRAMEWORK, "amended_on": "2020-06-01", "summary": "Price index"},
        on=date(2020, 6, 1),
    )
    token = consistency_token(amended)
    # The tenders runner took the clarification and holds it: it has not reached the token.
    assert await asyncio.to_thread(tenders.holding.wait, 30), "the tenders runner got no batch"
    assert tenders.runner.positions.get(amended[0].stream, 0) < amended[0].seq
    return HeldWrite(g, tenders, token, g.token("coordinator"))


@pytest.fixture
async def held(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> AsyncIterator[HeldWrite]:
    # A generous timeout: the read models not held must reach the write within it however
    # busy the machine; on main the held one made every token query wait it out.
    g = await start_gateway(nats_client, event_store, sqlite_url, consistency_timeout=30.0)
    try:
        write = await hold_tenders_and_write(g)
        try:
            yield write
        finally:
            write.tenders.release()
    finally:
        await g.stop()


async def test_a_held_back_read_model_does_not_delay_a_query_that_does_not_read_it(
    held: HeldWrite,
) -> None:
    for query in (CONTRACT_ONLY, CONTRACT_AND_AUTHORITY):
        body = await held.ask(query)
        assert "errors" not in body, body
        assert body["data"]["contract"]["lastAmendment"] == "Price index"
    # Answered while the tenders read model was still held: nothing waited for it.
    assert not held.tenders.asked.is_set()
    assert not held.tenders_reached()


async def test_a_nested_field_waits_for_the_read_model_it_reads_and_sees_the_write(
    held: HeldWrite,
) -> None:
    answer = asyncio.ensure_future(held.ask(WITH_TENDER))
    asked = asyncio.ensure_future(held.tenders.asked.wait())
    done, _ = await asyncio.wait({answer, asked}, return_when=asyncio.FIRST_COMPLETED)
    # The query must wait for the tenders read model before it reads the tender; had it
    # answered first, it read the tender before its write was applied.
    assert asked in done, f"answered without waiting for the tenders read model: {answer}"
    held.tenders.release()
    body = await answer
    assert "errors" not in body, body
    contract = body["data"]["contract"]
    assert contract["lastAmendment"] == "Price index"
    assert contract["tender"]["clarifications"] == [{"summary": "Lot 1 explained"}]


async def test_the_timeout_names_the_read_model_a_nested_field_waited_for(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> None:
    g = await start_gateway(nats_client, event_store, sqlite_url, consistency_timeout=0.5)
    try:
        held = await hold_tenders_and_write(g)
        try:
            # The contracts read model reaches the write first (not within the request's
            # short timeout: the machine may be busy), so only the held one can be late.
            contracts = runner_of(g, ContractsProjection)
            assert await contracts.wait_until(held.positions, 30)
            body = await held.ask(WITH_TENDER)
        finally:
            held.tenders.release()
    finally:
        await g.stop()
    # The root read what it reads; the nested tender alone failed, naming the read model.
    assert body["data"]["contract"]["lastAmendment"] == "Price index"
    assert body["data"]["contract"]["tender"] is None
    [error] = body["errors"]
    assert error["path"] == ["contract", "tender"]
    assert error["extensions"]["code"] == "CONSISTENCY_TIMEOUT"
    tenders_key = held.tenders.runner.projection.key
    assert f"the read models {tenders_key} did not reach {held.token}" in error["message"]
