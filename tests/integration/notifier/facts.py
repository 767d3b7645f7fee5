"""Given-facts for notifier tests: registry and enrolment events appended to their streams."""

from __future__ import annotations

from datetime import UTC, date, datetime

from nats.aio.client import Client as NATS

from bootstrap import parts
from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import Participant, ParticipantListFrozen
from contracts_schema.registry.events import ContractExpired, ContractExtended, ContractSigned
from contracts_schema.registry.values import ContractSupplier
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import Clock
from eventstore.store import CommandMetadata, EventStore, NewEvent
from notifier.service import Notifier
from notifier.settings import NotifierSettings


async def given(store: EventStore, aggregate_id: str, fact: DomainEvent, command_id: str) -> int:
    context = CONTEXTS[fact.context]
    await store.ensure_stream(context)
    history = await store.load(context, fact.aggregate_type, aggregate_id)
    valid = datetime(2020, 1, 1, tzinfo=UTC)
    new = NewEvent(fact.event_type, fact.schema_version, fact.model_dump(mode="json"), valid)
    stored = await store.append(history, [new], CommandMetadata(command_id, "test", command_id))
    return stored[-1].seq


async def frozen_list(store: EventStore, tender_id: str, *codes: str) -> None:
    fact = ParticipantListFrozen(
        tender_id=tender_id,
        frozen_on=date(2024, 5, 31),
        participants=[Participant(organisation_code=c, lot_ids=["L1"]) for c in codes],
    )
    await given(store, tender_id, fact, f"freeze-{tender_id}")


async def signed(
    store: EventStore,
    contract_id: str,
    tender_id: str,
    *,
    signed_on: date,
    end: date,
    max_extent: date | None = None,
) -> None:
    fact = ContractSigned(
        contract_id=contract_id,
        kind="framework",
        tender_id=tender_id,
        lot_ids=["L1"],
        contracting_authority="OIN-00000001234567890000",
        suppliers=[ContractSupplier(supplier_id="KVK-12345678", name="KPN B.V.", lot_ids=["L1"])],
        signed_on=signed_on,
        start_date=signed_on,
        end_date=end,
        max_extent_date=max_extent,
    )
    await given(store, contract_id, fact, f"sign-{contract_id}")


async def extended(
    store: EventStore, contract_id: str, previous: date, new: date, on: date
) -> None:
    fact = ContractExtended(
        contract_id=contract_id, new_end_date=new, previous_end_date=previous, extended_on=on
    )
    await given(store, contract_id, fact, f"extend-{contract_id}-{new}")


def notifier(nc: NATS, clock: Clock, database_url: str, **overrides: object) -> Notifier:
    settings = NotifierSettings(database_url=database_url, **overrides)  # type: ignore[arg-type]
    return parts.notifier(nc, clock, settings)


async def expired(store: EventStore, contract_id: str, on: date) -> None:
    fact = ContractExpired(contract_id=contract_id, expired_on=on)
    await given(store, contract_id, fact, f"expire-{contract_id}")
