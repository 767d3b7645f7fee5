"""A command id its aggregate's events already carry, sent with another body where the
processed-command record cannot answer (its write lost in a crash: here another process with a
record of its own), is refused COMMAND_ID_REUSED; the same command retried still gets its first
reply. Before: any command reusing the id got the first command's result, as a duplicate."""

from __future__ import annotations

from datetime import date

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.memory import InMemoryEventStore, InMemoryProcessedCommands
from registry.app import COMMANDS
from tests.service.bus import InProcessBus
from tests.service.test_backdated_retry_idempotent import JANUARY, JUNE, SIGN, send


async def without_its_record(store: InMemoryEventStore, clock: FixedClock) -> CommandService:
    """Another registry process, whose processed-command record holds nothing."""
    other = CommandService(
        REGISTRY, store, clock, COMMANDS.routes(store), COMMANDS.event_types,
        processed=InMemoryProcessedCommands(),
    )  # fmt: skip
    await other.start()
    return other


async def reused(service: CommandService, command: Command) -> CommandRejected:
    reply = await send(service, command)
    assert isinstance(reply, CommandRejected), reply
    assert reply.code == "COMMAND_ID_REUSED", reply
    assert "already used for a different command" in reply.message
    return reply


async def test_a_different_command_reusing_an_id_is_refused_without_the_record(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    await bus.accept(SIGN)
    june = await bus.accept(JUNE)
    january = await bus.accept(JANUARY)  # backdated: decided on the history by valid time
    other = await without_its_record(store, clock)
    # Another body under each id: refused, on the common path and the backdated one.
    await reused(other, JUNE.model_copy(update={"summary": "Iets anders"}))
    await reused(other, JUNE.model_copy(update={"new_end_date": date(2023, 6, 30)}))
    await reused(other, JANUARY.model_copy(update={"new_max_extent_date": date(2026, 3, 31)}))
    dated_otherwise = JUNE.model_copy(update={"occurred_at": JUNE.occurred_at.replace(day=2)})  # type: ignore[union-attr]
    assert "dated otherwise" in (await reused(other, dated_otherwise)).message
    # The same commands retried: their first replies.
    for command, first in ((JUNE, june), (JANUARY, january)):
        again = await send(other, command)
        assert isinstance(again, CommandAccepted), again
        assert again.duplicate
        assert again.events == first.events
    history = await store.load(REGISTRY, "contract", "c1")
    assert [e.envelope.command_id for e in history.events] == ["sign", "june", "january"]
