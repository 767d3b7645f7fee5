"""Cross-context facts, read one way: the owner's aggregate, folded with its published fold.

A service that needs another context's facts (the registry: an enrolment window's frozen
list; enrolment: a tender's lots, a framework's suppliers) loads that aggregate through the
`EventStorePort` and folds it with `contracts_schema.folds`: the owner's meaning, on any store
(JetStream or in memory), always as current as the store.
"""

from __future__ import annotations

from typing import TypeVar

from contracts_schema.folds import Fold, typed_event
from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.errors import EventStoreError, StreamNotFound
from eventstore.ports import EventStorePort

S = TypeVar("S")


async def load_folded(store: EventStorePort, fold: Fold[S], aggregate_id: str) -> S:
    """The aggregate's state; its initial state when the owner's stream recorded nothing."""
    context = CONTEXTS[fold.context]
    try:
        history = await store.load(context, fold.aggregate_type, aggregate_id)
    except EventStoreError:
        if not await stream_exists(store, context):
            return fold.initial(aggregate_id)
        raise
    events = (typed_event(e.envelope.event_type, e.envelope.payload) for e in history.events)
    return fold.replay(aggregate_id, events)


async def stream_exists(store: EventStorePort, context: BoundedContext) -> bool:
    try:
        await store.last_seq(context)
    except StreamNotFound:
        return False
    return True
