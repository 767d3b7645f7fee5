"""The registry service's wiring: routes into a CommandService, served by FastStream."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS

from contracts_schema.subjects import REGISTRY
from eventstore.clock import Clock
from eventstore.commands import CommandService
from eventstore.observability import ObservabilitySettings
from eventstore.ports import EventStorePort
from eventstore.service_app import build_service_app
from eventstore.settings import NatsSettings
from eventstore.store import EventStore
from registry.routes import REGISTRY_EVENT_TYPES, build_routes


def make_service(store: EventStorePort, clock: Clock) -> CommandService:
    """On any event store: JetStream in production, `InMemoryEventStore` in tests."""
    return CommandService(REGISTRY, store, clock, build_routes(store), REGISTRY_EVENT_TYPES)


def build_app(
    settings: NatsSettings | None = None,
    clock: Clock | None = None,
    observability: ObservabilitySettings | None = None,
) -> tuple[FastStream, NatsBroker]:
    async def factory(store: EventStore, _nc: NATS, service_clock: Clock) -> CommandService:
        return make_service(store, service_clock)

    return build_service_app(REGISTRY.name, factory, settings, clock, observability)
