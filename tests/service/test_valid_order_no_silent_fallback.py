"""A history the published fold refuses by valid time is never folded in another order in
silence (R4).

The owner folds an aggregate by valid time, as every view does. Imported releases are
recorded as published, not decided, and may precede their tender's first fact: a history
holding them that its fold refuses in that order is folded in the order recorded, by an
explicit, documented rule (`valid_order.as_recorded`; docs/valid-time.md). Any other such
history (here: a change dated before the contract's signature, stored by a writer that did
not decide by valid time, as releases before it did) is refused with UNTRUSTED_HISTORY
naming the aggregate and the fold's reason, where the owner used to decide on the order
recorded, a state no view holds (the views park the change).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.replies import CommandRejected
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata, NewEvent
from eventstore.valid_order import NotInValidOrder, fold
from tests.service.bus import InProcessBus
from tests.service.story import signed_contract


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def stored_before_its_signature(store: InMemoryEventStore) -> None:
    """A change dated before the contract's signature, stored without a decision."""
    head = await store.load(REGISTRY, "contract", "c1")
    amended = ev.ContractAmended(
        contract_id="c1", amended_on=date(2020, 1, 1), summary="Ouder dan de handtekening",
        new_end_date=date(2023, 3, 31),
    )  # fmt: skip
    new = NewEvent(amended.event_type, amended.schema_version, amended.model_dump(mode="json"),
                   at(2020, 1, 1))  # fmt: skip
    await store.append(head, [new], CommandMetadata("legacy", "legacy", "legacy"))


async def test_a_history_not_foldable_by_valid_time_is_refused_not_decided_as_recorded(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    await signed_contract(bus)
    await stored_before_its_signature(store)
    from bootstrap.parts import registry_service

    fresh = registry_service(store, clock)  # loads the contract: no cache to fall back on
    await fresh.start()
    extend = cmd.ExtendContract(
        command_id="extend", contract_id="c1", new_end_date=date(2024, 3, 31),
        occurred_at=at(2022, 2, 1),
    )  # fmt: skip
    reply = await InProcessBus([fresh]).send(extend)
    assert isinstance(reply, CommandRejected), reply
    assert reply.code == "UNTRUSTED_HISTORY"
    assert "contract c1 cannot be folded by valid time" in reply.message
    assert "never signed" in reply.message


async def test_only_a_history_with_imported_releases_is_folded_as_recorded(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    from contracts_schema.folds import FOLDS
    from contracts_schema.upcasting import decode_envelope

    await signed_contract(bus)
    await stored_before_its_signature(store)
    contract = FOLDS["registry", "contract"]
    events = (await store.load(REGISTRY, "contract", "c1")).events
    with pytest.raises(NotInValidOrder, match="never signed"):
        fold(contract.initial("c1"), contract.evolve, events, lambda e: decode_envelope(e.envelope))
