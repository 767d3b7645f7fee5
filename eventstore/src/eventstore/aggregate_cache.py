"""Folded aggregates kept between commands, and one queue per aggregate.

A `CommandService` keeps each aggregate it handled as its folded state, its head (the last
event and its stream sequence: what the next append continues from) and the replies of the
commands that wrote it (the command-id index its events carry). A command on a cached
aggregate then neither loads nor folds its history, so its cost does not grow with the
aggregate's length. The cache is never trusted blindly: the append carries the head's
sequence as the expected one, so a write by another process makes it fail; the service then
drops the entry, loads afresh and decides again. Bounded by aggregates and by events (LRU).

`AggregateLocks` queues the commands of one aggregate within one process, so they do not
race each other into conflicts; conflicts remain only between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts_schema.replies import AppendedEvent
from eventstore.records import AggregateHistory, StoredEvent, trusted

Key = tuple[str, str, str]  # (context, aggregate type, aggregate id)

DEFAULT_MAX_AGGREGATES = 10_000
DEFAULT_MAX_EVENTS = 200_000


def appended(event: StoredEvent) -> AppendedEvent:
    e = event.envelope
    # Built from a stored envelope (validated when sealed or read): nothing to check again.
    return trusted(
        AppendedEvent,
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "aggregate_type": e.aggregate_type,
            "aggregate_id": e.aggregate_id,
            "aggregate_version": e.aggregate_version,
            "stream": event.stream,
            "seq": event.seq,
        },
    )


def head_of(history: AggregateHistory) -> AggregateHistory:
    """The history cut to its last event: enough to seal and append after it."""
    return AggregateHistory(
        history.context,
        history.aggregate_type,
        history.aggregate_id,
        history.events[-1:],
        history.last_seq,
    )


@dataclass
class CachedAggregate:
    """One aggregate as a command needs it. `commands` maps a command id to the events it
    appended (as a reply names them), for the duplicate check without a load."""

    head: AggregateHistory
    state: Any
    commands: dict[str, tuple[AppendedEvent, ...]] = field(default_factory=dict)
    events: int = 0
    latest: datetime | None = None  # the latest valid time among its events (`valid_order`)

    @classmethod
    def of(cls, history: AggregateHistory, state: Any) -> CachedAggregate:
        entry = cls(head_of(history), state)
        entry.add(history.events)
        return entry

    def add(self, events: Sequence[StoredEvent]) -> None:
        self._index(events, [appended(e) for e in events])

    def _index(self, events: Sequence[StoredEvent], named: Sequence[AppendedEvent]) -> None:
        latest = self.latest
        for event, name in zip(events, named, strict=True):
            envelope = event.envelope
            command_id = envelope.command_id
            self.commands[command_id] = (*self.commands.get(command_id, ()), name)
            if latest is None or envelope.occurred_at > latest:
                latest = envelope.occurred_at
        self.latest = latest
        self.events += len(events)

    def advance(
        self,
        stored: list[StoredEvent],
        state: Any,
        named: Sequence[AppendedEvent] | None = None,
    ) -> None:
        """After our append landed: continue from its last event. `named`: its events as
        the reply names them, when the caller has them already."""
        if not stored:  # the decision was to change nothing
            return
        h = self.head
        last = stored[-1]
        self.head = AggregateHistory(h.context, h.aggregate_type, h.aggregate_id, (last,), last.seq)
        self.state = state
        if named is not None and type(self).add is CachedAggregate.add:
            self._index(stored, named)  # named by the caller already (its reply's events)
        else:
            self.add(stored)


class AggregateCache:
    """LRU of `CachedAggregate`s, bounded by their count and by the events they stand for."""

    def __init__(
        self, max_aggregates: int = DEFAULT_MAX_AGGREGATES, max_events: int = DEFAULT_MAX_EVENTS
    ) -> None:
        self.max_aggregates = max_aggregates
        self.max_events = max_events
        self._entries: OrderedDict[Key, CachedAggregate] = OrderedDict()
        self._events = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> CachedAggregate | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: CachedAggregate) -> None:
        self.drop(key)
        self._entries[key] = entry
        self._events += entry.events
        self._trim()

    def grew(self, key: Key, by: int) -> None:
        """An entry took `by` more events (its own append)."""
        if key in self._entries:
            self._events += by
            self._trim()

    def drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._events -= entry.events

    def _trim(self) -> None:
        while self._entries and (
            len(self._entries) > self.max_aggregates or self._events > self.max_events
        ):
            _, oldest = self._entries.popitem(last=False)
            self._events -= oldest.events


class AggregateLocks:
    """One queue per aggregate, alive while a command holds it or waits for it: the holder
    runs, the others wait in arrival order (as on an `asyncio.Lock`) and each is handed the
    aggregate by the one before. An aggregate nobody holds is taken without a lock object, a
    future or a loop turn (the common case: commands on different aggregates); a plain
    object, not a generator-based context manager (no async generator per command)."""

    def __init__(self) -> None:
        # key -> the commands waiting for it (in arrival order) while one holds it
        self._held: dict[Key, deque[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, key: Key) -> _Hold:
        return _Hold(self, key)

    async def _take(self, key: Key) -> None:
        waiting = self._held.get(key)
        if waiting is None:
            self._held[key] = deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(key)  # handed over just as it was cancelled: pass it on
            else:  # (a holder releasing meanwhile may have passed over it already)
                with contextlib.suppress(ValueError):
                    waiting.remove(turn)
            raise

    def _release(self, key: Key) -> None:
        waiting = self._held[key]
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the next in line holds it now
                return
        del self._held[key]


class _Hold:
    __slots__ = ("_key", "_locks")

    def __init__(self, locks: AggregateLocks, key: Key) -> None:
        self._locks = locks
        self._key = key

    async def __aenter__(self) -> None:
        await self._locks._take(self._key)

    async def __aexit__(self, *_exc: object) -> None:
        self._locks._release(self._key)
