"""A small command route for the command benchmarks until the registry's own routes land.

It goes through everything a real command does (validation, idempotency record, load,
fold, pure decide, expected-sequence append, reply); only the rule is trivial.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from nats.js.api import StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import Field

from contracts_schema.base import Command, DomainEvent, Identifier
from contracts_schema.errors import RuleViolation
from contracts_schema.subjects import BoundedContext
from eventstore.commands import CommandParts, CommandRoute, Decider, DecisionContext

BENCH = BoundedContext("bench", "BENCH")


class ContractAmended(DomainEvent):
    aggregate_type = "contract"
    context = "bench"
    contract_id: Identifier = Field(description="The amended contract.")
    summary: str = Field(description="What changed.")
    amended_on: date = Field(description="When the amendment took effect.")


class AmendContract(Command):
    context = "bench"
    contract_id: Identifier = Field(description="The contract to amend.")
    summary: str = Field(min_length=1, description="What changes.")
    amended_on: date = Field(description="When the amendment takes effect.")


@dataclass(frozen=True)
class Amendments:
    count: int = 0
    last: date | None = None


def evolve(state: Amendments, event: DomainEvent) -> Amendments:
    if isinstance(event, ContractAmended):
        return Amendments(state.count + 1, event.amended_on)
    return state


def decide(
    state: Amendments, command: AmendContract, ctx: DecisionContext
) -> Sequence[DomainEvent]:
    if state.last is not None and command.amended_on < state.last:
        raise RuleViolation("AMENDMENT_OUT_OF_ORDER", "an amendment cannot precede the last one")
    return [ContractAmended(**command.model_dump(include={"contract_id", "summary", "amended_on"}))]


DECIDER = Decider(BENCH, "contract", Amendments(), evolve)
ROUTES: list[CommandRoute[Amendments, AmendContract]] = [
    CommandRoute(AmendContract, DECIDER, lambda c: c.contract_id, decide)
]
EVENT_TYPES: dict[str, type[DomainEvent]] = {"ContractAmended": ContractAmended}
# The benchmark's own service: `bootstrap.parts.command_service` makes it.
COMMANDS = CommandParts(BENCH, lambda _store: ROUTES, EVENT_TYPES)


@dataclass(frozen=True)
class Run:
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


async def closed_loop(
    concurrency: int, total: int, operation: Callable[[int, int], Awaitable[None]]
) -> Run:
    """`concurrency` workers each issue their share of `total` operations back to back."""
    latencies: list[float] = []

    async def worker(w: int) -> None:
        for i in range(w, total, concurrency):
            started = time.perf_counter()
            await operation(w, i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return Run(time.perf_counter() - started, latencies)


RAW_STREAM = "BENCHRAW"


async def ensure_raw_stream(js: JetStreamContext) -> None:
    """The baselines' twin stream: same storage settings as the event store's."""
    config = StreamConfig(name=RAW_STREAM, subjects=["benchraw.>"], storage=StorageType.FILE)
    try:
        await js.stream_info(RAW_STREAM)
    except NotFoundError:
        await js.add_stream(config)
