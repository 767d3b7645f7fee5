"""The commands suite measures the registry's AmendContract as accepted, on the common path.

Since the owner decides a backdated command by valid time (`eventstore.valid_order`), an
amendment dated on the contract's signature day lies before the contract's later facts: it is
decided on a fresh load of the history, and refused where the contract expired since (the suite
then timed refusals, and its raw baseline published only the few accepted envelopes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.history.generator import generate
from bench.suites.commands import (
    registry_amendment,
    registry_imported_amendment,
    running_contracts,
)
from bootstrap.parts import registry_service
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import SystemClock
from eventstore.memory import InMemoryEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent

HISTORY_EVENTS = 20_000  # a quick run's (a smaller one has no contract still running)
CONCURRENCY = 4


async def _registry_on_history() -> tuple[Any, list[tuple[str, datetime]]]:
    """The registry service over the generated history's contracts, in memory."""
    history = generate(2026, HISTORY_EVENTS)
    contracts = running_contracts(history)
    assert contracts, "the generated history has contracts still running"
    store = InMemoryEventStore(SystemClock())
    heads: dict[tuple[str, str, str], AggregateHistory] = {}
    for commit in history.commits:
        if commit.aggregate_type != "contract":  # (all the amendment's decision reads)
            continue
        context = CONTEXTS[commit.context]
        await store.ensure_stream(context)
        head = heads.get(commit.key) or AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (), 0
        )
        new = [NewEvent(e.event_type, 1, e.payload, e.occurred_at) for e in commit.events]
        meta = CommandMetadata(commit.command_id, commit.actor, commit.command_id)
        stored = await store.append(head, new, meta)
        heads[commit.key] = AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (stored[-1],), stored[-1].seq
        )
    service = registry_service(store, SystemClock())
    await service.start()
    return service, contracts


async def test_every_registry_amendment_the_suite_sends_is_accepted_on_the_cached_fold() -> None:
    service, contracts = await _registry_on_history()
    refused = []
    for i in range(3 * len(contracts)):  # every contract, then twice more on its cached fold
        command = registry_amendment(contracts, CONCURRENCY, i % CONCURRENCY, i)
        meta = CommandMetadata(command.command_id, "bench", command.command_id)
        reply = await service.execute(service.route("AmendContract"), command, meta)
        if not isinstance(reply, CommandAccepted):
            refused.append((command.command_id, reply.code))
    assert refused == []


async def test_the_suites_multi_event_command_is_accepted_with_two_events() -> None:
    """The suite's multi-event route appends two events per command (an atomic batch), every
    command accepted: a refusal would time the refusal, one event would time a plain append."""
    service, contracts = await _registry_on_history()
    refused, counts = [], set()
    for i in range(2 * len(contracts)):
        command = registry_imported_amendment(contracts, CONCURRENCY, i % CONCURRENCY, i)
        meta = CommandMetadata(command.command_id, "bench", command.command_id)
        reply = await service.execute(service.route("RecordImportedContractRelease"), command, meta)
        if isinstance(reply, CommandAccepted):
            counts.add(len(reply.events))
        else:
            refused.append((command.command_id, reply.code))
    assert refused == []
    assert counts == {2}
