"""What a service needs of an event store and of an ordered subscription to it.

`eventstore.store.EventStore` (JetStream) and `eventstore.memory.InMemoryEventStore` both
satisfy `EventStorePort`; `DurableSubscriber` and `InMemorySubscriber` satisfy `Subscription`;
`eventstore.processed` keeps the `ProcessedCommands` record in a JetStream key-value bucket or
in memory.
The acceptance suite in tests/acceptance holds both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent

if TYPE_CHECKING:
    from eventstore.group_append import GroupedEvent

Handler = Callable[[list[StoredEvent]], Awaitable[None]]
# Seals new events after an aggregate's history, as `EventStorePort.seal` does.
Sealer = Callable[[AggregateHistory, Sequence[NewEvent], CommandMetadata], list[EventEnvelope]]


class EventStorePort(Protocol):
    # Whether the command path should seal before `append` (`append(sealed=...)`), while
    # its lookups are under way: worth it only where the append itself waits on the wire.
    SEALS_AHEAD: bool

    async def ensure_stream(self, context: BoundedContext) -> None: ...

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory: ...

    def read_stream(
        self, context: BoundedContext, from_seq: int = 1, subject_filter: str | None = None
    ) -> AsyncIterator[StoredEvent]: ...

    async def last_seq(self, context: BoundedContext) -> int: ...

    def seal(
        self, history: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope]: ...

    def sealer(self) -> Sealer:
        """`seal` for a bulk writer whose values are the envelope's own types already (ids
        of validated commands, aware datetimes, payloads dumped in JSON mode): the same
        envelopes, possibly without re-validating them (`bulk_seal.seal_trusted`)."""
        ...

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
        sealed: Sequence[EventEnvelope] | None = None,
    ) -> list[StoredEvent]:
        """All of `new_events` or none, if the aggregate has not moved since `history`.
        `sealed`: those events as this store's `seal` sealed them on `history` already,
        appended as they are (not sealed again); None: sealed here. A store whose
        `SEALS_AHEAD` is true wants them sealed beforehand (the command path seals while its
        processed-command lookup is under way); every store accepts them."""
        ...


@runtime_checkable
class GroupAppender(Protocol):
    """A store that appends many aggregates' events in one atomic step (a group commit,
    `eventstore.group_append`); both stores offer it beside `append`."""

    async def append_group(self, events: Sequence[GroupedEvent]) -> Sequence[StoredEvent]: ...


class Subscription(Protocol):
    """Hands batches of events to a handler in stream order, from a position, then live."""

    gaps: int  # batches cut because a delivery went astray (never, in memory)

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class EventSource(Protocol):
    """What a projection runner reads: ordered batches from its checkpoint on, the streams'
    heads, and an aggregate's earlier events. `InMemoryEventStore` is one;
    `eventstore.sources.JetStreamSource` is the broker's."""

    def subscriber(
        self,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        position: Callable[[], int] | None = None,
    ) -> Subscription: ...

    async def last_seq(self, context: BoundedContext) -> int: ...

    async def load(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str
    ) -> AggregateHistory: ...


class ProcessedCommands(Protocol):
    """The durable record of handled commands: key -> the reply given (JSON), for idempotency."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...
