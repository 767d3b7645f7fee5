"""The state after a command's own append, as the next command on that aggregate decides on
it: commands queued behind each other on one aggregate decide on each other's events (the
fold of the events just appended, not a stale cache), and a fold of them that fails leaves
the next command to load the aggregate from the store (the failure surfaces there, nothing
is decided on a state the fold never reached). Guards any change to how `_advance` folds
(bench/findings.md, helper cmd7: folding it off the command's path was tried)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from contracts_schema.base import Command, DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService, Decider, DecisionContext
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata
from tests.support.ledger import EVENT_TYPES, LEDGER, EntryRecorded, RecordEntries

LIMIT = 3


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


DECIDER = Decider(LEDGER, "ledger", Counted(), evolve)
ROUTE = CommandRoute(RecordEntries, DECIDER, lambda c: c.ledger_id, decide)


async def service(clock: FixedClock) -> tuple[CommandService, InMemoryEventStore]:
    store = InMemoryEventStore(clock)
    await store.ensure_stream(LEDGER)
    svc = CommandService(LEDGER, store, clock, [ROUTE], EVENT_TYPES)
    await svc.start()
    return svc, store


async def send(svc: CommandService, command: Command) -> CommandAccepted | CommandRejected:
    meta = CommandMetadata(command.command_id, "t", command.command_id)
    return await svc.execute(ROUTE, command, meta)


async def test_commands_queued_on_one_aggregate_decide_on_each_others_events(
    fixed_clock: FixedClock,
) -> None:
    svc, store = await service(fixed_clock)
    commands = [
        RecordEntries(command_id=f"c-{i}", ledger_id="l", amounts=[1]) for i in range(LIMIT + 3)
    ]
    replies = await asyncio.gather(*(send(svc, c) for c in commands))

    assert [r.status for r in replies] == ["accepted"] * LIMIT + ["rejected"] * 3
    assert {r.code for r in replies if isinstance(r, CommandRejected)} == {"LEDGER_FULL"}
    history = await store.load(LEDGER, "ledger", "l")
    assert [e.envelope.command_id for e in history.events] == [f"c-{i}" for i in range(LIMIT)]
    # One at a time, each after the last one's fold had its turns: the same answers.
    again, _ = await service(fixed_clock)
    one_by_one = [await send(again, c) for c in commands]
    assert [r.status for r in one_by_one] == [r.status for r in replies]


async def test_a_fold_that_fails_after_the_append_leaves_the_next_command_to_the_store(
    fixed_clock: FixedClock,
) -> None:
    svc, store = await service(fixed_clock)
    landed = await send(svc, RecordEntries(command_id="c-1", ledger_id="l", amounts=[13]))
    assert isinstance(landed, CommandAccepted)  # stored; its fold fails afterwards
    for _ in range(3):
        await asyncio.sleep(0)  # (the deferred fold's turns)

    # Loaded from the store (not decided on a state the fold never reached), whose history
    # cannot be folded either: the failure surfaces (`handle` answers it INTERNAL_ERROR).
    with pytest.raises(ValueError, match="13 cannot be folded"):
        await send(svc, RecordEntries(command_id="c-2", ledger_id="l", amounts=[1]))
    history = await store.load(LEDGER, "ledger", "l")
    assert [e.envelope.command_id for e in history.events] == ["c-1"]
