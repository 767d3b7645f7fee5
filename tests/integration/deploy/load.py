"""A bounded command load with client retries, and the checks every fault test shares."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import nats.errors
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted
from eventstore.hashing import verify_chain
from eventstore.serving import send_command
from eventstore.store import StoredEvent
from tests.support.ledger import LEDGER, RecordEntries

# Rejections that say "not now" rather than "no": the client retries with the same command id.
# UNAVAILABLE: a transient condition (e.g. no stream leader while one is elected).
RETRYABLE = {"INTERNAL_ERROR", "APPEND_FAILED", "CONCURRENCY_CONFLICT", "UNAVAILABLE"}
TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.StaleConnectionError,
)


@dataclass
class LoadResult:
    acknowledged: dict[str, CommandAccepted] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


async def send_until_acknowledged(
    nc: NATS, command: RecordEntries, result: LoadResult, deadline: float
) -> CommandAccepted:
    while True:
        started = time.monotonic()
        try:
            reply = await send_command(nc, LEDGER, command, timeout=2.0)
        except TRANSIENT as exc:
            reason = type(exc).__name__
        else:
            if isinstance(reply, CommandAccepted):
                result.latencies.append(time.monotonic() - started)
                return reply
            if reply.code not in RETRYABLE:
                raise AssertionError(f"{command.command_id} rejected: {reply.code} {reply.message}")
            reason = f"{reply.code}: {reply.message[:60]}"
        result.retries[reason] += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"{command.command_id} never acknowledged (last: {reason})")
        await asyncio.sleep(0.05)


async def run_load(
    nc: NATS,
    commands: Sequence[RecordEntries],
    *,
    concurrency: int = 6,
    timeout: float = 60.0,
    on_acknowledged: Callable[[int], Awaitable[None]] | None = None,
) -> LoadResult:
    result = LoadResult()
    queue: asyncio.Queue[RecordEntries] = asyncio.Queue()
    for command in commands:
        queue.put_nowait(command)
    deadline = time.monotonic() + timeout

    async def worker() -> None:
        while not queue.empty():
            command = queue.get_nowait()
            reply = await send_until_acknowledged(nc, command, result, deadline)
            result.acknowledged[command.command_id] = reply
            if on_acknowledged is not None:
                await on_acknowledged(len(result.acknowledged))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def ledger_commands(prefix: str, count: int, ledgers: int = 8) -> list[RecordEntries]:
    # Two amounts per command: each one is an atomic two-event batch.
    return [
        RecordEntries(
            command_id=f"{prefix}-{i}", ledger_id=f"{prefix}-l{i % ledgers}", amounts=[i + 1, 1]
        )
        for i in range(count)
    ]


def assert_exactly_once(events: Sequence[StoredEvent], commands: Sequence[RecordEntries]) -> None:
    """Every command's events are in the stream once, in order, with intact hash chains."""
    by_command: defaultdict[str, list[int]] = defaultdict(list)
    for event in events:
        by_command[event.envelope.command_id].append(event.envelope.payload["amount"])
    for command in commands:
        assert by_command[command.command_id] == command.amounts, command.command_id
    assert len({e.envelope.event_id for e in events}) == len(events)
    per_aggregate: defaultdict[str, list[StoredEvent]] = defaultdict(list)
    for event in events:
        per_aggregate[event.envelope.aggregate_id].append(event)
    for aggregate, stored in per_aggregate.items():
        versions = [e.envelope.aggregate_version for e in stored]
        assert versions == list(range(1, len(stored) + 1)), aggregate
        envelopes = [json.loads(e.envelope.model_dump_json()) for e in stored]
        assert verify_chain(aggregate, envelopes) == [], aggregate


def expected_balances(commands: Sequence[RecordEntries]) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for command in commands:
        total, entries = totals.get(command.ledger_id, (0, 0))
        totals[command.ledger_id] = (total + sum(command.amounts), entries + len(command.amounts))
    return totals
