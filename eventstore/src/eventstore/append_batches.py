"""The general command path's appends of one loop turn, on different aggregates, as one batch.

At concurrency 64 a service process handles several commands in one loop turn; appended each
alone, every command costs the service a request (a publish with a reply subject, a timer, a
future) and an acknowledgement parsed, and the broker an acknowledgement sent. Appended
together they are one atomic JetStream batch (`group_append.publish_group`): the leading
messages queued as protocol bytes at once, one commit, one acknowledgement for all. Each
aggregate's first message carries its own expected last sequence, and each event the
Nats-Msg-Id `EventStore.append` gives it, so the outcome is what appending each alone gives:

- stored: each command gets its events at their sequences, as `append` returns them;
- refused (an aggregate moved, a Msg-Id stored before, anything else the stream refuses):
  nothing was stored, and the refusal does not say whose it is: each command then appends
  alone, as it would have, and meets its own outcome (its conflict, its AlreadyAppended, its
  events stored);
- no answer (a timeout, a lost connection): stored or not is unknown, for every command of
  the batch: each gets that exception, as from its own append (the command path reloads and
  looks for its events by command id, `CommandService._decide`).

A command alone in the process (concurrency 1) appends at once, not a loop turn later; a turn
with one append, an append whose trace continues on its events (the instrumented store gives
it a span of its own) and a store whose `append` does something of its own (a test's faults)
append as `append` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from eventstore.errors import AppendFailed, ConcurrencyConflict, is_transient
from eventstore.group_append import MAX_BATCH, GroupedEvent, msg_id, publish_group
from eventstore.observability import InstrumentedEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent
from eventstore.store import PUBLISH_TIMEOUT, EventStore

log = logging.getLogger(__name__)

# `append` of these stores is `EventStore.append` (the instrumented one adds a span, taken
# alone, and counts conflicts, which a batch's members meet again alone).
_PLAIN_APPENDS = (EventStore.append, InstrumentedEventStore.append)


def batches_appends(store: object) -> TypeGuard[EventStore]:
    """Whether `store`'s appends can go in batches: a JetStream store appending as
    `EventStore.append` does."""
    return isinstance(store, EventStore) and type(store).append in _PLAIN_APPENDS


class _Alone:
    """A member's answer: append alone (the batch was refused, or it was the turn's only
    one)."""


ALONE = _Alone()


@dataclass(frozen=True)
class _Member:
    history: AggregateHistory
    new_events: Sequence[NewEvent]
    meta: CommandMetadata
    headers: Mapping[str, str]
    turn: asyncio.Future[list[StoredEvent] | _Alone]


class AppendBatches:
    """`EventStore.append` for the commands of one service process, the appends of one loop
    turn sent as one atomic batch (see above). `busy()` says whether another command is under
    way in the process (when not, an append goes at once)."""

    def __init__(self, store: EventStore, busy: Callable[[], bool]) -> None:
        self._store = store
        self._busy = busy
        self._gathering: list[_Member] = []
        self._scheduled = False
        self._commits: set[asyncio.Future[None]] = set()
        self.batches = 0  # batches of two or more commands stored (for tests and the bench)
        self.refused = 0  # batches refused, their commands appended alone

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> list[StoredEvent]:
        store = self._store
        if (
            not new_events
            or len(new_events) >= MAX_BATCH
            or (headers and "traceparent" in headers)
            or not self._busy()
        ):
            return await store.append(history, new_events, meta, headers=headers)
        extra = dict(headers) if headers else {}
        reserved = sorted(k for k in extra if k.lower().startswith("nats-"))
        if reserved:  # refused as `append` refuses it
            return await store.append(history, new_events, meta, headers=headers)
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[list[StoredEvent] | _Alone] = loop.create_future()
        self._gathering.append(_Member(history, new_events, meta, extra, turn))
        if not self._scheduled:
            # Runs after every step of this loop turn: the appends of the commands decided
            # in this turn are all in.
            self._scheduled = True
            loop.call_soon(self._send)
        stored = await turn
        if isinstance(stored, _Alone):
            return await store.append(history, new_events, meta, headers=headers)
        return stored

    def _send(self) -> None:
        members, self._gathering, self._scheduled = self._gathering, [], False
        members = [m for m in members if not m.turn.done()]  # (cancelled meanwhile)
        if len(members) == 1:
            members[0].turn.set_result(ALONE)
            return
        if not members:
            return
        commit = asyncio.ensure_future(self._commit(members))
        self._commits.add(commit)
        commit.add_done_callback(self._commits.discard)

    async def _commit(self, members: list[_Member]) -> None:
        try:
            grouped: list[tuple[_Member, list[GroupedEvent]]] = []
            for member in members:
                try:
                    grouped.append((member, self._sealed(member)))
                except Exception as exc:  # its own failure, as from its own append
                    member.turn.set_exception(exc)
            for chunk in _chunks(grouped):
                await self._publish(chunk)
        finally:
            for member in members:  # (cancelled: a loop closing)
                if not member.turn.done():
                    member.turn.cancel()

    def _sealed(self, member: _Member) -> list[GroupedEvent]:
        """The member's events sealed as `EventStore.append` seals them, with its Msg-Ids,
        the expected last sequence on the first."""
        history, meta = member.history, member.meta
        context = history.context
        envelopes = self._store.seal(history, member.new_events, meta)
        return [
            GroupedEvent(
                context,
                history.aggregate_type,
                history.aggregate_id,
                envelope,
                msg_id(context, meta.command_id, history.aggregate_id, index),
                history.last_seq if index == 1 else None,
                member.headers,
            )
            for index, envelope in enumerate(envelopes, start=1)
        ]

    async def _publish(self, chunk: list[tuple[_Member, list[GroupedEvent]]]) -> None:
        if len(chunk) == 1:
            chunk[0][0].turn.set_result(ALONE)
            return
        events = [e for _member, group in chunk for e in group]
        try:
            stored = await publish_group(self._store.nc, events, PUBLISH_TIMEOUT)
        except (ConcurrencyConflict, AppendFailed) as exc:
            # Nothing stored; whose the refusal is, unknown: each appends alone.
            log.debug("a batch of %d appends refused (%r); each appends alone", len(chunk), exc)
            self.refused += 1
            for member, _group in chunk:
                _settle(member, ALONE)
            return
        except Exception as exc:
            if not is_transient(exc):  # met again, and reported, by each alone
                log.warning("a batch of %d appends failed (%r); each alone", len(chunk), exc)
                for member, _group in chunk:
                    _settle(member, ALONE)
                return
            for member, _group in chunk:  # stored or not: unknown to each, as alone
                if not member.turn.done():
                    member.turn.set_exception(exc)
            return
        self.batches += 1
        start = 0
        for member, group in chunk:
            _settle(member, stored[start : start + len(group)])
            start += len(group)


def _settle(member: _Member, outcome: list[StoredEvent] | _Alone) -> None:
    if not member.turn.done():
        member.turn.set_result(outcome)


def _chunks(
    grouped: list[tuple[_Member, list[GroupedEvent]]],
) -> list[list[tuple[_Member, list[GroupedEvent]]]]:
    """The members in order, in batches of at most `MAX_BATCH` events."""
    chunks: list[list[tuple[_Member, list[GroupedEvent]]]] = [[]]
    size = 0
    for member, group in grouped:
        if size + len(group) > MAX_BATCH and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append((member, group))
        size += len(group)
    return [c for c in chunks if c]
