"""A tiny test-only aggregate used to exercise the event backbone on its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from contracts_schema.base import Command, DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.subjects import BoundedContext
from eventstore.commands import CommandRoute, Decider, DecisionContext

LEDGER = BoundedContext("ledger", "LEDGER")


class EntryRecorded(DomainEvent):
    aggregate_type = "ledger"
    context = "ledger"
    amount: int


class RecordEntries(Command):
    context = "ledger"
    ledger_id: str = Field(pattern=r"^[a-z0-9-]+$")
    amounts: list[int] = Field(min_length=1)


@dataclass(frozen=True)
class Ledger:
    total: int = 0
    entries: int = 0


def evolve(state: Ledger, event: DomainEvent) -> Ledger:
    match event:
        case EntryRecorded(amount=amount):
            return Ledger(state.total + amount, state.entries + 1)
    return state


def decide(state: Ledger, command: RecordEntries, ctx: DecisionContext) -> Sequence[DomainEvent]:
    if any(a == 0 for a in command.amounts):
        raise RuleViolation("ZERO_ENTRY", "a ledger entry of zero is meaningless")
    return [EntryRecorded(amount=a) for a in command.amounts]


DECIDER = Decider(LEDGER, "ledger", Ledger(), evolve)
ROUTES = [CommandRoute(RecordEntries, DECIDER, lambda c: c.ledger_id, decide)]
EVENT_TYPES = {"EntryRecorded": EntryRecorded}
