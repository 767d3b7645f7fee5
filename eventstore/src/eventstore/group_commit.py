"""A command service's twin that decides on a `StagedStore`, for a group commit.

It handles commands exactly as the service does (its routes, given here reading the staged
store; its clock, event types, valid-time tolerance, attempts and the other contexts'
records), with a cache of its own. The processed-command records it would write are held as
values (`held`: the command's type, fingerprint and reply, its events at provisional
sequences) until the group is stored; the caller writes them then, with the stored
sequences, as `CommandService._remember` writes a record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from contracts_schema.base import Command
from contracts_schema.replies import AppendedEvent, CommandAccepted
from contracts_schema.subjects import BoundedContext
from eventstore.aggregate_cache import AggregateCache, CachedAggregate, appended
from eventstore.commands import CommandRoute, CommandService, Decider
from eventstore.fast_json import json_bytes
from eventstore.group_append import StagedStore
from eventstore.ports import ProcessedCommands
from eventstore.records import StoredEvent

# A command id's records in this context's record as read before (`_recall`'s order: the
# id, its pre-uniqueness key), or None: not read before.
Recalled = Callable[[str], list[bytes | None] | None]


class Held(NamedTuple):
    """A processed-command record the twin would write: `CommandService._remember`'s."""

    command_type: str
    fingerprint: str
    reply: CommandAccepted  # its events at provisional sequences (staged)

    def record(self, context: str, reply: dict[str, Any]) -> bytes:
        """The record's JSON, with `reply` (the reply's JSON form, its events placed)."""
        head = {"context": context, "command_type": self.command_type,
                "fingerprint": self.fingerprint}  # fmt: skip
        return json_bytes({**head, "reply": reply})


class _Commands(dict[str, tuple[AppendedEvent, ...]]):
    """A staged aggregate's command-id index: the events each command appended here are
    kept as stored and made into reply events only when asked (the same command id twice
    in a group; rare), not for every event staged. Those loaded with the aggregate are
    indexed as `CachedAggregate` indexes them."""

    def __init__(self, loaded: dict[str, tuple[AppendedEvent, ...]]) -> None:
        super().__init__(loaded)
        self.staged: dict[str, list[StoredEvent]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        staged = self.staged.get(key)
        if staged is None:
            return super().get(key, default)
        return (*super().get(key, ()), *map(appended, staged))


@dataclass
class _StagedEntry(CachedAggregate):
    """A `CachedAggregate` whose new events are indexed by `_Commands`."""

    def add(self, events: Sequence[StoredEvent]) -> None:
        commands = self.commands
        if not isinstance(commands, _Commands):
            super().add(events)
            return
        for event in events:
            commands.staged.setdefault(event.envelope.command_id, []).append(event)
        self.events += len(events)


class _Twin(CommandService):
    recalled: Recalled | None = None
    held: dict[str, Held]
    # The other contexts' records (in `_elsewhere`'s order) read for the whole group: each
    # the keys it answered (None: no record there).
    elsewhere: Sequence[dict[str, bytes | None]] = ()

    async def _load_aggregate(
        self, decider: Decider[Any], aggregate_id: str, transient_until: float
    ) -> CachedAggregate:
        loaded = await super()._load_aggregate(decider, aggregate_id, transient_until)
        return _StagedEntry(loaded.head, loaded.state, _Commands(loaded.commands), loaded.events)

    async def _remember(
        self, command: Command, fingerprint: str, reply: CommandAccepted
    ) -> CommandAccepted:
        """Held as values, not serialised: the caller writes it once the group is stored."""
        if self._processed is None or not reply.events:
            return reply
        self.held[command.command_id] = Held(command.command_type, fingerprint, reply)
        return reply

    def _recall(self, command_id: str) -> asyncio.Future[list[bytes | None]]:
        """This context's records the caller read for the whole group answer without a
        request each; the other contexts' records are read as `_recall` reads them, when
        this context's has none. A record held here (the same id again in this group)
        answers as a pending one does."""
        held = self.held.get(command_id)
        if held is not None:
            reply = held.reply.model_dump(mode="json", exclude={"duplicate"})
            known_here: asyncio.Future[list[bytes | None]] = (
                asyncio.get_running_loop().create_future()
            )
            known_here.set_result([held.record(self.context.name, reply)])
            return known_here
        own = (
            None
            if command_id in self._pending or self.recalled is None
            else (self.recalled(command_id))
        )
        if own is None:
            return super()._recall(command_id)
        if any(v is not None for v in own) or not self._elsewhere:
            known: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
            known.set_result(own)
            return known
        # The other contexts' records as read for the whole group, when each answered.
        others = self.elsewhere
        if len(others) == len(self._elsewhere) and all(command_id in o for o in others):
            there: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
            there.set_result([o[command_id] for o in others])
            return there
        # `_recalled` takes the first record found: here none, so the others' decide.
        return asyncio.gather(*(self._read_record(o, command_id) for o in self._elsewhere))


def staged_twin(
    service: CommandService,
    store: StagedStore,
    routes: Sequence[CommandRoute[Any, Any]],
    processed: ProcessedCommands,
    recalled: Recalled | None = None,
    elsewhere: Sequence[dict[str, bytes | None]] = (),
) -> CommandService:
    twin = _Twin(
        service.context,
        store,
        service._clock,
        routes,
        service._event_types,
        max_attempts=service._max_attempts,
        processed=processed,
        future_tolerance=service._future_tolerance,
        cache=AggregateCache(),
    )
    twin._elsewhere = service._elsewhere  # command ids stay unique across contexts
    twin.transient_budget = service.transient_budget
    twin.recalled = recalled
    twin.elsewhere = elsewhere
    twin.held = {}
    cache = twin._cache

    def folded(context: BoundedContext, aggregate_type: str, aggregate_id: str) -> Any:
        entry = cache.get((context.name, aggregate_type, aggregate_id))
        return None if entry is None else (entry.head.last_seq, entry.state)

    store.folded = folded  # a facts loader reads a staged aggregate's state from here
    return twin


def held_records(twin: CommandService) -> dict[str, Held]:
    """The records a staged twin holds (command id -> record), in the order decided."""
    return twin.held if isinstance(twin, _Twin) else {}
