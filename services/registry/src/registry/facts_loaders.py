"""Read-only loaders for facts a decision needs from outside its aggregate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import reduce
from typing import TypeVar

from nats.js.errors import NotFoundError

from contracts_schema.base import DomainEvent
from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.enrolment.events import ParticipantListFrozen
from contracts_schema.registry.commands import PublishTender, SignContract
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.errors import EventStoreError
from eventstore.store import AggregateHistory, EventStore
from registry.domain.contract_state import INITIAL_CONTRACT, evolve_contract
from registry.domain.facts import FrozenParticipantList, SigningFacts
from registry.domain.tender_state import INITIAL_TENDER, evolve_tender

S = TypeVar("S")


def _fold(history: AggregateHistory, initial: S, evolve: Callable[[S, DomainEvent], S]) -> S:
    events = (
        EVENT_TYPES[e.envelope.event_type].model_validate(e.envelope.payload)
        for e in history.events
    )
    return reduce(evolve, events, initial)


def frozen_list_loader(
    store: EventStore,
) -> Callable[[PublishTender], Awaitable[FrozenParticipantList | None]]:
    async def load(command: PublishTender) -> FrozenParticipantList | None:
        # The enrolment service owns the list; the registry only reads its aggregate.
        try:
            history = await store.load(ENROLMENT, "enrolment_window", command.tender_id)
        except EventStoreError:
            if not await _stream_exists(store, ENROLMENT.stream):
                return None  # no enrolment has ever been recorded, so nothing is frozen
            raise
        frozen = [
            ParticipantListFrozen.model_validate(e.envelope.payload)
            for e in history.events
            if e.envelope.event_type == ParticipantListFrozen.event_type
        ]
        if not frozen:
            return None
        latest = frozen[-1]
        return FrozenParticipantList(
            tender_id=latest.tender_id,
            frozen_on=latest.frozen_on,
            participant_codes=tuple(p.organisation_code for p in latest.participants),
        )

    return load


def signing_facts_loader(store: EventStore) -> Callable[[SignContract], Awaitable[SigningFacts]]:
    async def load(command: SignContract) -> SigningFacts:
        tender = framework = None
        if command.tender_id is not None:
            history = await store.load(REGISTRY, "tender", command.tender_id)
            tender = _fold(history, INITIAL_TENDER, evolve_tender)
        if command.framework_contract_id is not None:
            history = await store.load(REGISTRY, "contract", command.framework_contract_id)
            framework = _fold(history, INITIAL_CONTRACT, evolve_contract)
        return SigningFacts(tender=tender, framework=framework)

    return load


async def _stream_exists(store: EventStore, stream: str) -> bool:
    try:
        await store.nc.jetstream().stream_info(stream)
    except NotFoundError:
        return False
    return True
