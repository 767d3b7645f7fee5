"""A command service's twin that decides on a `StagedStore`, for a group commit.

It handles commands exactly as the service does (its routes, given here reading the staged
store; its clock, event types, valid-time tolerance, attempts and the other contexts'
records), with a cache of its own and a processed-command record whose writes the caller
holds until the group is stored (`eventstore.group_append`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventstore.aggregate_cache import AggregateCache
from eventstore.commands import CommandRoute, CommandService
from eventstore.group_append import StagedStore
from eventstore.ports import ProcessedCommands


def staged_twin(
    service: CommandService,
    store: StagedStore,
    routes: Sequence[CommandRoute[Any, Any]],
    processed: ProcessedCommands,
) -> CommandService:
    twin = CommandService(
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
    return twin
