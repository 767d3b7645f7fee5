"""The enrolment service's entry point: command handling, plus its registry-facts read model.

Decisions read the registry through the event store port (`enrolment.facts`), so
`make_service` runs on any store; `assemble` adds the `RegistryFacts` read model that the
JetStream deployment keeps beside it (declared in `bootstrap.read_models`).
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS
from pydantic import Field
from sqlalchemy import Engine

from enrolment.facts import Facts
from enrolment.registry_facts import RegistryFacts
from enrolment.routes import build_routes
from enrolment.service import EnrolmentCommandService
from eventstore.clock import Clock
from eventstore.commands import CommandService
from eventstore.observability import ObservabilitySettings
from eventstore.ports import EventStorePort
from eventstore.projection import ProjectionRunner
from eventstore.service_app import build_service_app
from eventstore.settings import NatsSettings
from eventstore.sql import make_engine
from eventstore.store import EventStore


class EnrolmentSettings(NatsSettings):
    enrolment_database_url: str = Field(
        default="sqlite:///data/enrolment.db",
        description="SQLAlchemy URL of the enrolment service's own read model (registry facts).",
    )


@dataclass
class EnrolmentParts:
    service: EnrolmentCommandService
    runner: ProjectionRunner
    engine: Engine

    async def stop(self) -> None:
        await self.runner.stop()
        self.engine.dispose()


def make_service(store: EventStorePort, clock: Clock) -> EnrolmentCommandService:
    """On any event store: JetStream in production, `InMemoryEventStore` in tests."""
    return EnrolmentCommandService(store, clock, build_routes(Facts(store)))


async def assemble(store: EventStore, nc: NATS, clock: Clock, database_url: str) -> EnrolmentParts:
    """The command service, and the registry-facts read model started beside it."""
    engine = make_engine(database_url)
    runner = ProjectionRunner(nc, engine, RegistryFacts())
    await runner.start()
    return EnrolmentParts(make_service(store, clock), runner, engine)


def build_app(
    settings: EnrolmentSettings | None = None,
    clock: Clock | None = None,
    observability: ObservabilitySettings | None = None,
) -> tuple[FastStream, NatsBroker]:
    settings = settings or EnrolmentSettings()
    running: list[EnrolmentParts] = []

    async def factory(store: EventStore, nc: NATS, service_clock: Clock) -> CommandService:
        parts = await assemble(store, nc, service_clock, settings.enrolment_database_url)
        running.append(parts)
        return parts.service

    app, broker = build_service_app("enrolment", factory, settings, clock, observability)

    @app.on_shutdown
    async def stop_projection() -> None:
        for parts in running:
            await parts.stop()
        running.clear()

    return app, broker
