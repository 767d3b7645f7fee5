"""The owner's own state is the valid-time fold, cached or loaded afresh.

After a fact learned late is accepted, the service that decided it (its cache) and a fresh
service process on the same store (loading the aggregate) decide the next command on the
same state: the one every view folds (`eventstore.valid_order`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from bootstrap.parts import registry_service
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.import_commands import (
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.valid_order import by_valid_time
from tests.service.bus import InProcessBus
from tests.service.story import signed_contract


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def send(service: object, command: cmd.ContractCommand | cmd.SignContract) -> bytes:
    request = CommandRequest(
        command_type=command.command_type, command=command.model_dump(mode="json"), actor="t"
    )
    handle = service.handle  # type: ignore[attr-defined]
    reply: bytes = await handle(
        REGISTRY.command_subject(command.command_type), request.model_dump_json().encode()
    )
    return reply


async def test_a_fresh_process_decides_on_the_same_valid_time_state_as_the_cache(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    await signed_contract(bus)
    for command_id, end, day in (("june", date(2023, 3, 31), at(2021, 6, 1)),
                                 ("january", date(2022, 9, 30), at(2021, 1, 1))):  # fmt: skip
        amend = cmd.AmendContract(
            command_id=command_id, contract_id="c1", summary="x", new_end_date=end,
            occurred_at=day,
        )  # fmt: skip
        assert isinstance(await bus.send(amend), CommandAccepted)
    # Recorded last, January's end would be the end in the order recorded; by day it is
    # June's (2023-03-31). An extension to 2023-01-31 is no extension of that.
    history = (await store.load(REGISTRY, "contract", "c1")).events
    assert [e.envelope.command_id for e in by_valid_time(history)] == ["sign", "january", "june"]
    too_short = cmd.ExtendContract(
        command_id="extend", contract_id="c1", new_end_date=date(2023, 1, 31),
        occurred_at=at(2022, 2, 1),
    )  # fmt: skip
    cached = await bus.send(too_short)
    fresh = registry_service(store, clock)
    await fresh.start()
    loaded = CommandRejected.model_validate_json(await send(fresh, too_short))
    assert isinstance(cached, CommandRejected)
    assert (cached.code, loaded.code) == ("EXTENSION_NOT_LATER", "EXTENSION_NOT_LATER")
    assert "2023-03-31" in cached.message
    assert "2023-03-31" in loaded.message


def test_imported_releases_are_recorded_as_given_not_decided_by_valid_time() -> None:
    assert cmd.AmendContract.decided_by_valid_time
    assert not RecordImportedTenderRelease.decided_by_valid_time
    assert not RecordImportedContractRelease.decided_by_valid_time


async def test_facts_another_process_recorded_out_of_order_are_folded_by_valid_time(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    """review11: this process cached the contract at its signature; another process then
    recorded June's change of the end and, learned late, January's. Both lie after the cached
    latest day, but not in valid order among themselves: folded as recorded, the catch-up
    took January's end as the current one and accepted an "extension" that shortened the
    contract in every view, which a fresh process refused."""
    from eventstore.serving import parse_reply

    await signed_contract(bus)
    other = registry_service(store, clock)
    await other.start()
    for command_id, end, extent, day in (
        ("june", date(2023, 3, 31), None, at(2021, 6, 1)),
        ("january", date(2022, 9, 30), date(2025, 3, 31), at(2021, 1, 1)),
    ):
        amend = cmd.AmendContract(
            command_id=command_id, contract_id="c1", summary="x", new_end_date=end,
            new_max_extent_date=extent, occurred_at=day,
        )  # fmt: skip
        assert isinstance(parse_reply(await send(other, amend)), CommandAccepted)
    # By day the end is June's 2023-03-31: an extension to 2023-01-31 is none.
    replies = []
    for command_id, service in (("cached", None), ("fresh", registry_service(store, clock))):
        extend = cmd.ExtendContract(
            command_id=command_id, contract_id="c1", new_end_date=date(2023, 1, 31),
            occurred_at=at(2022, 2, 1),
        )  # fmt: skip
        if service is None:
            replies.append(await bus.send(extend))
        else:
            await service.start()
            replies.append(parse_reply(await send(service, extend)))
    assert all(isinstance(r, CommandRejected) for r in replies), replies
    assert [r.code for r in replies] == ["EXTENSION_NOT_LATER"] * 2  # type: ignore[union-attr]
