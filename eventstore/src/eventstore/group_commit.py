"""A command service's twin that decides on a `StagedStore`, for a group commit.

It handles commands exactly as the service does (its routes, given here reading the staged
store; its clock, event types, valid-time tolerance, attempts and the other contexts'
records), with a cache of its own and a processed-command record whose writes the caller
holds until the group is stored (`eventstore.group_append`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from eventstore.aggregate_cache import AggregateCache
from eventstore.commands import CommandRoute, CommandService
from eventstore.group_append import StagedStore
from eventstore.ports import ProcessedCommands

# A command id's records in this context's record as read before (`_recall`'s order: the
# id, its pre-uniqueness key), or None: not read before.
Recalled = Callable[[str], list[bytes | None] | None]


class _Twin(CommandService):
    recalled: Recalled | None = None

    def _recall(self, command_id: str) -> asyncio.Future[list[bytes | None]]:
        """This context's records the caller read for the whole group answer without a
        request each; the other contexts' records are read as `_recall` reads them, when
        this context's has none."""
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
        # `_recalled` takes the first record found: here none, so the others' decide.
        return asyncio.gather(*(self._read_record(o, command_id) for o in self._elsewhere))


def staged_twin(
    service: CommandService,
    store: StagedStore,
    routes: Sequence[CommandRoute[Any, Any]],
    processed: ProcessedCommands,
    recalled: Recalled | None = None,
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
    return twin
