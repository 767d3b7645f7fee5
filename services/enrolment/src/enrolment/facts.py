"""Facts loaders: what a decision needs from outside its own aggregate, read beforehand.

Registry facts come from this service's projection, after it has caught up with everything
the registry had recorded when the command arrived (read-your-writes across services).
Enrolment facts (organisations, other windows, mergers) come straight from the event store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import reduce
from typing import TypeVar

from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.state import (
    EnrolmentWindowState,
    OrganisationState,
    enrolment_window,
    organisation,
)
from contracts_schema.folds import typed_event
from contracts_schema.subjects import ENROLMENT, REGISTRY
from enrolment.domain.call_off import Framework
from enrolment.domain.enrolment_window import TenderFacts
from enrolment.registry_facts import RegistryFacts
from eventstore.projection import ProjectionRunner
from eventstore.store import EventStore, StoredEvent

T = TypeVar("T")


class RegistryFactsUnavailable(RuntimeError):
    pass


def fold(initial: T, evolve: Callable[[T, DomainEvent], T], events: tuple[StoredEvent, ...]) -> T:
    models = (typed_event(e.envelope.event_type, e.envelope.payload) for e in events)
    return reduce(evolve, models, initial)


class Facts:
    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner,
        engine: Engine,
        projection: RegistryFacts,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._runner = runner
        self._engine = engine
        self._projection = projection
        self._timeout = timeout

    async def _registry_caught_up(self) -> None:
        try:
            last = await self._store.last_seq(REGISTRY)
        except NotFoundError:
            return  # the registry has recorded nothing yet
        if not await self._runner.wait_until({REGISTRY.stream: last}, self._timeout):
            raise RegistryFactsUnavailable(
                f"the registry projection did not reach {REGISTRY.stream}:{last}"
                f" within {self._timeout}s"
            )

    def _read(self, query: Callable[[Connection, str], T], key: str) -> T:
        with self._engine.connect() as conn:
            return query(conn, key)

    async def tender(self, tender_id: str) -> TenderFacts | None:
        await self._registry_caught_up()
        return await asyncio.to_thread(self._read, self._projection.tender, tender_id)

    async def framework(self, contract_id: str) -> Framework | None:
        await self._registry_caught_up()
        return await asyncio.to_thread(self._read, self._projection.framework, contract_id)

    async def organisation(self, code: str) -> OrganisationState:
        history = await self._store.load(ENROLMENT, "organisation", code)
        return fold(organisation.initial(code), organisation.evolve, history.events)

    async def window(self, tender_id: str) -> EnrolmentWindowState:
        history = await self._store.load(ENROLMENT, "enrolment_window", tender_id)
        return fold(enrolment_window.initial(tender_id), enrolment_window.evolve, history.events)

    async def successors(self) -> dict[str, str]:
        """Merged municipality -> its successor (mergers are few: read them all)."""
        merged = ENROLMENT.event_subject("organisation", "*", "MunicipalityMerged")
        return {
            e.envelope.payload["code"]: e.envelope.payload["successor_code"]
            async for e in self._store.read_stream(ENROLMENT, 1, merged)
        }
