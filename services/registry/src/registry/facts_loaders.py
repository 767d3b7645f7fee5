"""Read-only loaders for facts a decision needs from outside its aggregate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import reduce
from typing import TypeVar

from nats.js.errors import NotFoundError

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.state import enrolment_window
from contracts_schema.folds import typed_event
from contracts_schema.registry.commands import PublishTender, SignContract
from contracts_schema.registry.state import contract, tender
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.errors import EventStoreError
from eventstore.store import AggregateHistory, EventStore
from registry.domain.facts import FrozenParticipantList, SigningFacts

S = TypeVar("S")


def _fold(
    history: AggregateHistory,
    aggregate_id: str,
    initial: Callable[[str], S],
    evolve: Callable[[S, DomainEvent], S],
) -> S:
    events = (typed_event(e.envelope.event_type, e.envelope.payload) for e in history.events)
    return reduce(evolve, events, initial(aggregate_id))


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
        tid = command.tender_id
        window = _fold(history, tid, enrolment_window.initial, enrolment_window.evolve)
        if window.frozen_on is None:
            return None
        return FrozenParticipantList(
            tender_id=tid,
            frozen_on=window.frozen_on,
            participant_codes=tuple(sorted(window.enrolled)),
        )

    return load


def signing_facts_loader(store: EventStore) -> Callable[[SignContract], Awaitable[SigningFacts]]:
    async def load(command: SignContract) -> SigningFacts:
        facts = SigningFacts()
        if (tid := command.tender_id) is not None:
            history = await store.load(REGISTRY, "tender", tid)
            facts = replace(facts, tender=_fold(history, tid, tender.initial, tender.evolve))
        if (fid := command.framework_contract_id) is not None:
            history = await store.load(REGISTRY, "contract", fid)
            framework = _fold(history, fid, contract.initial, contract.evolve)
            facts = replace(facts, framework=framework)
        return facts

    return load


async def _stream_exists(store: EventStore, stream: str) -> bool:
    try:
        await store.nc.jetstream().stream_info(stream)
    except NotFoundError:
        return False
    return True
