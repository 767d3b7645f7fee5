"""guard22: a stream that lost an aggregate's *last* event is not decided on.

A lost event in the middle of a history shows as a skipped version (correct23); a lost last
event does not: the stream's expected last subject sequence is then the event before it, so
the next command was decided on the earlier state and a second event of the lost version was
written (history silently rewritten). The stream's own state says it has lost messages
(`last_seq - messages`): a command on an aggregate whose last event lies at or before the
highest lost sequence (or that has none) is refused `UNTRUSTED_HISTORY` naming the stream and
its loss, until an operator restores the stream or acknowledges the loss; aggregates written
after the loss go on. Real JetStream, the services' own command handling (`handle`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from nats.aio.client import Client as NATS

from contracts_schema.registry import commands as cmd
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.losses import LOAD_FRESHNESS
from eventstore.store import EventStore
from tests.service.bus import InProcessBus
from tests.service.story import bus_on, framework_signed, on, plan

CONTRACT = "gt-connect-fw"


def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


def amend(n: int, contract_id: str = CONTRACT) -> cmd.AmendContract:
    return cmd.AmendContract(
        command_id=f"{contract_id}-amend-{n}",
        contract_id=contract_id,
        summary=f"Indexatie {n}",
        occurred_at=on(date(2020, 1, n)),
    )


def writer(nc: NATS) -> EventStore:
    """A store on a stream made without its protection (deny delete cannot be lifted from a
    stream once set: on a protected stream messages are lost with their block files, or by a
    store edited on disk; deleting one is the same loss, made reproducible)."""
    return EventStore(nc, clock(), protect=False)


async def lose(nc: NATS, seq: int, stream: str = REGISTRY.stream) -> None:
    await nc.jetstream().delete_msg(stream, seq)


async def versions(nc: NATS, contract_id: str = CONTRACT) -> list[int]:
    history = await EventStore(nc, clock()).load(REGISTRY, "contract", contract_id)
    return [e.envelope.aggregate_version for e in history.events]


async def amended_twice(nc: NATS) -> tuple[InProcessBus, int]:
    """The story up to a signed framework, amended twice: the contract at version 3, and
    the stream sequence of that last event."""
    bus = await bus_on(writer(nc), clock())
    await framework_signed(bus)
    for n in (1, 2):
        await bus.accept(amend(n))
    history = await EventStore(nc, clock()).load(REGISTRY, "contract", CONTRACT)
    assert [e.envelope.aggregate_version for e in history.events] == [1, 2, 3]
    return bus, history.last_seq


def refused_for_the_loss(reply: CommandAccepted | CommandRejected, lost_seq: int) -> None:
    assert isinstance(reply, CommandRejected), reply  # before: accepted, a second version 3
    assert reply.code == "UNTRUSTED_HISTORY", reply
    assert f"contract/{CONTRACT}: REGISTRY has lost 1 message" in reply.message, reply
    assert f"the highest lost is seq {lost_seq}" in reply.message, reply
    assert "restores the stream from a backup or acknowledges the loss" in reply.message


async def test_a_fresh_process_refuses_a_contract_whose_last_event_was_lost(
    nats_client: NATS,
) -> None:
    _first, last = await amended_twice(nats_client)
    await lose(nats_client, last)  # version 3 lost
    # A fresh process (nothing cached) loads [1, 2]: no gap in it.
    second = await bus_on(writer(nats_client), clock())
    refused_for_the_loss(await second.send(amend(3)), last)
    assert await versions(nats_client) == [1, 2]  # nothing written


async def test_a_running_process_refuses_it_on_its_next_load(nats_client: NATS) -> None:
    """Started before the loss, the contract not in its cache: its load asks the stream
    (once the stream's last answer is `LOAD_FRESHNESS` old: a wait, not a timed assertion)."""
    _first, last = await amended_twice(nats_client)
    second = await bus_on(writer(nats_client), clock())
    await lose(nats_client, last)
    await asyncio.sleep(LOAD_FRESHNESS + 0.1)
    refused_for_the_loss(await second.send(amend(3)), last)
    assert await versions(nats_client) == [1, 2]


async def test_the_process_that_cached_it_refuses_it(nats_client: NATS) -> None:
    """Its cached head is the lost event: the append's expected sequence is ahead of what
    the stream holds of the contract (before: CONCURRENCY_CONFLICT after 8 attempts)."""
    first, last = await amended_twice(nats_client)
    await lose(nats_client, last)
    refused_for_the_loss(await first.send(amend(3)), last)
    # and again (the cache dropped it; the load now refuses it before deciding)
    refused_for_the_loss(await first.send(amend(4)), last)
    assert await versions(nats_client) == [1, 2]


async def test_a_loss_in_another_aggregate_refuses_only_what_it_may_have_touched(
    nats_client: NATS,
) -> None:
    """A message of the tender lost in the middle of the stream: the contract, whose last
    event lies after it, goes on; a tender never written (its planning may have been the lost
    message) is refused; the enrolment stream, which lost nothing, goes on."""
    bus, _last = await amended_twice(nats_client)
    store = EventStore(nats_client, clock())
    tender = await store.load(REGISTRY, "tender", "gt-connect")
    lost = tender.events[1].seq  # before the contract's events
    contract = await store.load(REGISTRY, "contract", CONTRACT)
    assert lost < contract.events[0].seq
    await lose(nats_client, lost)
    fresh = await bus_on(writer(nats_client), clock())
    for running in (bus, fresh):  # the process that wrote it, and one started after
        n = 3 if running is bus else 4
        accepted = await running.send(amend(n))
        assert isinstance(accepted, CommandAccepted), accepted
        new = await running.send(plan("gt-two").model_copy(update={"command_id": f"two-{n}"}))
        assert isinstance(new, CommandRejected), new
        assert new.code == "UNTRUSTED_HISTORY", new
        assert "tender/gt-two: REGISTRY has lost 1 message" in new.message, new
        assert "it has no event" in new.message, new
        assert f"after seq {lost} take commands as before" in new.message, new
    assert await versions(nats_client) == [1, 2, 3, 4, 5]
    two = await EventStore(nats_client, clock()).load(REGISTRY, "tender", "gt-two")
    assert not two.events
    enrolment = await EventStore(nats_client, clock()).load(ENROLMENT, "organisation", "GM0363")
    assert enrolment.events  # (a stream without loss: untouched)
