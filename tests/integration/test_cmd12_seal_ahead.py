"""A command's events sealed (hashed, signed) and folded while its processed-command lookup
is under way, on a real JetStream (helper cmd12, issue 18): the lookup's answer still comes
first. The envelopes appended are the ones sealed then; a recorded reply found by the lookup
discards them and appends nothing; a fold that fails ahead of the append leaves the events
stored and the aggregate out of the cache, as a fold after the append did.

The lookup is held here until the command seals (or, where a command never seals before
its lookup is answered, until the service has had many loop turns): a command that seals
only after the answer fails the order asserted, it does not hang."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS

from contracts_schema.base import DomainEvent
from contracts_schema.envelope import EventEnvelope
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService, Decider, DecisionContext
from eventstore.ports import Sealer
from eventstore.processed import KeyValueProcessedCommands
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.signing import EventSigner, new_seed
from eventstore.store import EventStore
from tests.support.ledger import EVENT_TYPES, LEDGER, EntryRecorded, RecordEntries

LIMIT = 3
FALLBACK_TURNS = 200  # loop turns after the read before a held lookup is answered anyway


@dataclass(frozen=True)
class Counted:
    entries: int = 0


def evolve(state: Counted, event: DomainEvent) -> Counted:
    if isinstance(event, EntryRecorded) and event.amount == 13:
        raise ValueError("13 cannot be folded")
    return Counted(state.entries + 1)


def decide(state: Counted, command: RecordEntries, ctx: DecisionContext) -> Sequence[DomainEvent]:
    if state.entries + len(command.amounts) > LIMIT:
        raise RuleViolation("LEDGER_FULL", f"the ledger holds {state.entries} entries already")
    return [EntryRecorded(amount=a) for a in command.amounts]


ROUTE = CommandRoute(
    RecordEntries, Decider(LEDGER, "ledger", Counted(), evolve), lambda c: c.ledger_id, decide
)


class SealLog(EventStore):
    """The store, noting when it seals and appends (and what it sealed)."""

    def __init__(self, nc: NATS, clock: FixedClock, log: list[str]) -> None:
        super().__init__(nc, clock, signers={"ledger": EventSigner(new_seed())})
        self.log = log
        self.sealed: list[EventEnvelope] = []
        self.on_seal: asyncio.Event | None = None

    def seal(
        self, history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope]:
        return self._noted(super().seal(history, new_events, meta), meta)

    def sealer(self) -> Sealer:
        # The command path seals its own values with this (cmd17), not with `seal`.
        sealing = super().sealer()
        return lambda history, new_events, meta: self._noted(
            sealing(history, new_events, meta), meta
        )

    def _noted(self, envelopes: list[EventEnvelope], meta: CommandMetadata) -> list[EventEnvelope]:
        self.log.append(f"sealed {meta.command_id}")
        self.sealed += envelopes
        if self.on_seal is not None:
            self.on_seal.set()
        return envelopes

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        stored = await super().append(*args, **kwargs)
        self.log.append(f"appended {args[2].command_id}")
        return stored


class HeldLookups:
    """The service's record, each lookup answered (with what the bucket holds) only once the
    command has sealed, or FALLBACK_TURNS loop turns after the bucket answered."""

    def __init__(self, record: KeyValueProcessedCommands, store: SealLog) -> None:
        self._record = record
        self._store = store
        self._answering: set[asyncio.Task[None]] = set()

    def lookup(self, key: str, timeout: float) -> asyncio.Future[bytes | None]:
        found: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        sealed = self._store.on_seal = asyncio.Event()

        async def answer() -> None:
            value = await self._record.get_within(key, timeout)
            for _ in range(FALLBACK_TURNS):
                if sealed.is_set():
                    break
                await asyncio.sleep(0)
            if not key.startswith(f"{LEDGER.name}."):  # (not the pre-uniqueness key's too)
                self._store.log.append(f"looked up {key}")
            found.set_result(value)

        task = asyncio.ensure_future(answer())
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        return found

    def __getattr__(self, name: str) -> Any:  # writes and the rest: the bucket's own
        return getattr(self._record, name)


async def held_service(nc: NATS, clock: FixedClock) -> tuple[CommandService, SealLog]:
    store = SealLog(nc, clock, [])
    await store.ensure_stream(LEDGER)
    record = await KeyValueProcessedCommands.open(nc, LEDGER)
    svc = CommandService(
        LEDGER, store, clock, [ROUTE], EVENT_TYPES, processed=HeldLookups(record, store)
    )
    await svc.start()
    return svc, store


async def send(
    svc: CommandService, command_id: str, ledger_id: str, amount: int
) -> CommandAccepted | CommandRejected:
    command = RecordEntries(command_id=command_id, ledger_id=ledger_id, amounts=[amount])
    return await svc.execute(ROUTE, command, CommandMetadata(command_id, "t", command_id))


async def test_events_are_sealed_before_the_lookup_answers_and_appended_as_sealed(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc, store = await held_service(nats_client, fixed_clock)
    first = await send(svc, "sa-1", "sa", 1)  # the aggregate loaded (cold), then cached
    store.log.clear()
    store.sealed.clear()
    second = await send(svc, "sa-2", "sa", 2)  # warm: decided and sealed while looking up
    await svc.drain()

    assert isinstance(first, CommandAccepted)
    assert isinstance(second, CommandAccepted)
    assert store.log == ["sealed sa-2", "looked up sa-2", "appended sa-2"]
    history = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "sa")
    assert [e.envelope for e in history.events][-1] == store.sealed[0]
    assert history.events[-1].envelope.signature is not None
    # The cache continues with the fold made ahead: the limit counts both entries.
    third, fourth = await send(svc, "sa-3", "sa", 3), await send(svc, "sa-4", "sa", 4)
    assert isinstance(third, CommandAccepted)
    assert isinstance(fourth, CommandRejected)
    assert fourth.code == "LEDGER_FULL"


async def test_an_id_recorded_for_another_aggregate_discards_what_was_sealed_ahead(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc, store = await held_service(nats_client, fixed_clock)
    assert isinstance(await send(svc, "sr-1", "sra", 1), CommandAccepted)
    assert isinstance(await send(svc, "sr-2", "srb", 1), CommandAccepted)  # srb cached
    await svc.drain()  # the records written and acknowledged
    store.log.clear()

    reused = await send(svc, "sr-1", "srb", 2)

    assert isinstance(reused, CommandRejected)
    assert reused.code == "COMMAND_ID_REUSED"
    assert store.log == ["sealed sr-1", "looked up sr-1"]  # sealed, then nothing appended
    history = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "srb")
    assert [e.envelope.command_id for e in history.events] == ["sr-2"]


async def test_a_fold_that_fails_ahead_of_the_append_leaves_the_events_stored(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    svc, store = await held_service(nats_client, fixed_clock)
    assert isinstance(await send(svc, "sf-1", "sf", 1), CommandAccepted)
    store.log.clear()

    unfoldable = await send(svc, "sf-2", "sf", 13)

    assert isinstance(unfoldable, CommandAccepted)
    assert store.log == ["sealed sf-2", "looked up sf-2", "appended sf-2"]
    history = await EventStore(nats_client, fixed_clock).load(LEDGER, "ledger", "sf")
    assert [e.envelope.command_id for e in history.events] == ["sf-1", "sf-2"]
    assert svc._cache.get((LEDGER.name, "ledger", "sf")) is None  # folded from the store next
