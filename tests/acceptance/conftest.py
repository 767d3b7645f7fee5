"""The event-store backends the acceptance suite runs against: in memory, and real JetStream.

The JetStream one is marked `jetstream`, so `-m "not jetstream"` runs the suite without any
server; it is never skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.subjects import BoundedContext
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort, Handler, Subscription
from eventstore.store import EventStore
from eventstore.subscription import DurableSubscriber

Subscribe = Callable[[BoundedContext, str, Handler, Callable[[], int] | None], Subscription]


@dataclass
class Backend:
    name: str
    store: EventStorePort
    subscribe: Subscribe


def _memory(clock: FixedClock) -> Backend:
    store = InMemoryEventStore(clock)

    def subscribe(
        context: BoundedContext,
        durable: str,
        handler: Handler,
        position: Callable[[], int] | None,
    ) -> Subscription:
        return store.subscriber(context, durable, handler, batch=10, position=position)

    return Backend("memory", store, subscribe)


def _jetstream(nc: NATS, clock: FixedClock) -> Backend:
    def subscribe(
        context: BoundedContext,
        durable: str,
        handler: Handler,
        position: Callable[[], int] | None,
    ) -> Subscription:
        return DurableSubscriber(nc, context, durable, handler, batch=10, position=position)

    return Backend("jetstream", EventStore(nc, clock), subscribe)


@pytest.fixture(params=["memory", pytest.param("jetstream", marks=pytest.mark.jetstream)])
def backend(request: pytest.FixtureRequest, fixed_clock: FixedClock) -> Backend:
    if request.param == "memory":
        return _memory(fixed_clock)
    nc: NATS = request.getfixturevalue("nats_client")  # a server of its own, on a random port
    return _jetstream(nc, fixed_clock)
