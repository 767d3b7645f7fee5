"""A backdated command retried is answered with its first result, never decided again.

A command dated before its aggregate's latest valid day is decided on its history loaded
afresh (`eventstore.valid_order.decide`), not on the cache. A retry of it (the same command
id) must get the first reply back, as on the common path: from the processed-command record,
or, where that record cannot answer (not written, unreadable: the record is an index, the
events are the truth), from the aggregate's own events, including when they were stored by
another process after this one cached the aggregate. The same id with another body is refused
(COMMAND_ID_REUSED), as on the common path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bootstrap.parts import registry_service
from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import CONTEXTS, REGISTRY
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.memory import DUPLICATE_WINDOW, InMemoryEventStore, InMemoryProcessedCommands
from eventstore.serving import parse_reply
from registry.app import COMMANDS
from tests.service.bus import InProcessBus
from tests.service.story import SIGN_C1


class Ticks:
    """The store's monotonic clock, moved by the test: a retry can come after the store's
    window for duplicate message ids (JetStream's: two minutes) has passed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def store(clock: FixedClock, ticks: Ticks) -> InMemoryEventStore:
    memory = InMemoryEventStore(clock, monotonic=ticks)
    for context in CONTEXTS.values():
        await memory.ensure_stream(context)
    return memory


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


SIGN = SIGN_C1
JUNE = cmd.AmendContract(
    command_id="june", contract_id="c1", summary="Verlengd",
    new_end_date=date(2023, 3, 31), occurred_at=at(2021, 6, 1),
)  # fmt: skip
JANUARY = cmd.AmendContract(
    command_id="january", contract_id="c1", summary="Rek verruimd",
    new_end_date=date(2022, 9, 30), new_max_extent_date=date(2025, 3, 31),
    occurred_at=at(2021, 1, 1),
)  # fmt: skip


async def send(service: CommandService, command: Command) -> CommandAccepted | CommandRejected:
    request = CommandRequest(
        command_type=command.command_type, command=command.model_dump(mode="json"), actor="t"
    )
    subject = REGISTRY.command_subject(command.command_type)
    return parse_reply(await service.handle(subject, request.model_dump_json().encode()))


async def command_ids(store: InMemoryEventStore) -> list[str]:
    history = await store.load(REGISTRY, "contract", "c1")
    return [e.envelope.command_id for e in history.events]


async def test_a_backdated_command_retried_gets_its_first_reply(bus: InProcessBus) -> None:
    await bus.accept(SIGN)
    await bus.accept(JUNE)
    first = await bus.accept(JANUARY)
    again = await bus.accept(JANUARY)
    assert again.duplicate
    assert again.events == first.events
    other = JANUARY.model_copy(update={"summary": "Iets anders"})
    refused = await bus.reject(other, "COMMAND_ID_REUSED")
    assert "different command" in refused.message


async def test_a_backdated_command_retried_on_another_process_is_not_decided_again(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock, ticks: Ticks
) -> None:
    """Another process (B) cached the contract before the backdated amendment was decided
    elsewhere; the retry reaches B, which cannot read the first reply's record (a record of
    its own stands for a record write that was lost): the amendment's events answer."""
    b = CommandService(
        REGISTRY, store, clock, COMMANDS.routes(store), COMMANDS.event_types,
        processed=InMemoryProcessedCommands(),
    )  # fmt: skip
    await b.start()
    assert isinstance(await send(b, SIGN), CommandAccepted)
    assert isinstance(await send(b, JUNE), CommandAccepted)  # B caches the contract
    first = await bus.accept(JANUARY)  # decided by another process, A
    assert await command_ids(store) == ["sign", "june", "january"]
    ticks.now += DUPLICATE_WINDOW + 1  # the store no longer takes the retry for a duplicate
    again = await send(b, JANUARY)
    assert isinstance(again, CommandAccepted), again
    assert again.duplicate
    assert again.events == first.events
    assert await command_ids(store) == ["sign", "june", "january"]  # not appended twice
    # B decides the next command on the state with it, as A would.
    fresh = registry_service(store, clock)
    await fresh.start()
    extend = cmd.ExtendContract(
        command_id="extend", contract_id="c1", new_end_date=date(2023, 1, 31),
        occurred_at=at(2022, 2, 1),
    )  # fmt: skip
    on_b, on_fresh = await send(b, extend), await send(fresh, extend)
    assert isinstance(on_b, CommandRejected)
    assert isinstance(on_fresh, CommandRejected)
    assert on_b.code == on_fresh.code == "EXTENSION_NOT_LATER"
