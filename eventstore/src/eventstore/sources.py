"""The JetStream `EventSource` of a projection runner: durable consumers and direct gets.

The in-memory twin is `eventstore.memory.InMemoryEventStore` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from nats.aio.client import Client as NATS

from contracts_schema.subjects import BoundedContext
from eventstore.catchup import CatchUpSubscriber
from eventstore.clock import SystemClock
from eventstore.ports import EventSource, Handler
from eventstore.records import AggregateHistory
from eventstore.store import EventStore
from eventstore.subscription import DurableSubscriber


class JetStreamSource:
    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._store = EventStore(nc, SystemClock())  # read only: nothing is sealed here

    def subscriber(
        self,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> DurableSubscriber:
        if position is not None:  # a checkpointing owner: catch up in bulk when far behind
            return CatchUpSubscriber(
                self.nc,
                context,
                durable,
                handler,
                head=functools.partial(self.last_seq, context),
                position=position,
                batch=batch,
                subject_filter=subject_filter,
            )
        return DurableSubscriber(
            self.nc,
            context,
            durable,
            handler,
            batch=batch,
            subject_filter=subject_filter,
            position=position,
        )

    async def last_seq(self, context: BoundedContext) -> int:
        return await self._store.last_seq(context)

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory:
        return await self._store.load(context, aggregate_type, aggregate_id)


_conforms: type[EventSource] = JetStreamSource
