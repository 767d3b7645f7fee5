"""What the registry recorded of the aggregates an import addresses, asked together.

Each process of an import starts from what the registry recorded of its tender and contracts
(a re-run starts there). Loading each of them is a Direct Get batch request each, with an
inbox subscription of its own: on a fresh import, hundreds of requests that all answer
"nothing". So the aggregates asked for within one loop turn (the processes in flight start
together) are first asked together whether they have any event: one multi-subject Direct Get
(`multi_last`, server 2.11+: the last message of each subject matching the aggregates'
filters; what the auditor's NATS user may already ask of the registry's stream). An
aggregate with no message there is folded from nothing, as `load_folded` folds it; one that
has events, or any aggregate of a question not answered whole (a cut batch, an error, a
timeout, another store), is loaded and folded as before.
"""

from __future__ import annotations

import asyncio
import re
from typing import TypeVar

from nats.aio.client import Client as NATS

from contracts_schema.folds import Fold
from contracts_schema.subjects import CONTEXTS
from eventstore.folded import load_folded
from eventstore.ports import EventStorePort
from eventstore.store import EventStore
from eventstore.with_events import CHUNK, with_events

S = TypeVar("S")

TIMEOUT = 5.0  # seconds; not answered by then: each is loaded
# One subject token per type and id: a filter with nothing a wildcard or JSON could mean.
_PLAIN = re.compile(r"^[-_=a-zA-Z0-9]+$")


class RecordedReader:
    """`load_folded` of many aggregates, the ones without events found in one question."""

    def __init__(self, store: EventStorePort) -> None:
        self._store = store
        self._nc: NATS | None = store.nc if isinstance(store, EventStore) else None
        # stream -> aggregate filter -> the futures waiting: True (has events), False (has
        # none), None (not known: load it)
        self._gathering: dict[str, dict[str, list[asyncio.Future[bool | None]]]] = {}
        self._sending: asyncio.Future[None] | None = None

    async def folded(self, fold: Fold[S], aggregate_id: str) -> S:
        context = CONTEXTS[fold.context]
        if await self._has_events(context.stream, fold, aggregate_id) is False:
            return fold.replay(aggregate_id, ())  # (`load_folded` of an empty history)
        return await load_folded(self._store, fold, aggregate_id)

    def _has_events(
        self, stream: str, fold: Fold[S], aggregate_id: str
    ) -> asyncio.Future[bool | None]:
        found: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        plain = _PLAIN.match(fold.aggregate_type) and _PLAIN.match(aggregate_id)
        if self._nc is None or not plain:
            found.set_result(None)
            return found
        subject = CONTEXTS[fold.context].aggregate_filter(fold.aggregate_type, aggregate_id)
        self._gathering.setdefault(stream, {}).setdefault(subject, []).append(found)
        if self._sending is None:  # sent after every other step of this loop turn
            self._sending = asyncio.ensure_future(self._send())
        return found

    async def _send(self) -> None:
        gathering, self._gathering, self._sending = self._gathering, {}, None
        asks = []
        for stream, wanted in gathering.items():
            filters = list(wanted)
            for start in range(0, len(filters), CHUNK):
                chunk = filters[start : start + CHUNK]
                asks.append(self._ask(stream, {f: wanted[f] for f in chunk}))
        await asyncio.gather(*asks)

    async def _ask(self, stream: str, wanted: dict[str, list[asyncio.Future[bool | None]]]) -> None:
        answers: dict[str, bool | None] = dict.fromkeys(wanted, None)
        try:
            found = await with_events(self._nc, stream, list(wanted), TIMEOUT)  # type: ignore[arg-type]
            if found is not None:
                answers = {f: f in found for f in wanted}
        except Exception:
            pass  # each is loaded, as alone
        for subject, waiting in wanted.items():
            for future in waiting:
                if not future.done():
                    future.set_result(answers[subject])
