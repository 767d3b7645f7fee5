"""Load a synthetic history through the event store (EventStore.append), not into tables.

Appends are pipelined: up to `window` commits are in flight, started in transaction-time
order on one connection (so the streams hold them in that order), and a commit waits
only for its own aggregate's previous one, whose stream sequence it must expect.

A commit whose append times out (a loaded machine) is sent again, as it was: the message
ids are the command's, so JetStream keeps a first send that did arrive once (its
deduplication) and the resend is refused; the loader then finds the commit stored. A
resent commit may land after later commits of other aggregates, never before its own
aggregate's next one.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from bench.history.model import Commit, History
from contracts_schema.subjects import CONTEXTS
from eventstore.errors import EventStoreError
from eventstore.signing import EventSigner, new_seed
from eventstore.store import (
    AggregateHistory,
    CommandMetadata,
    EventStore,
    NewEvent,
    StoredEvent,
)
from eventstore.trust import Trust, configured

RESENDS = 5  # a commit's sends after the first one timed out

_recorded_at: ContextVar[datetime] = ContextVar("recorded_at")


class CommitClock:
    """Transaction time of the commit being appended (a backfill records history's own times)."""

    def now(self) -> datetime:
        return _recorded_at.get(datetime.now(UTC))


@dataclass(frozen=True)
class LoadResult:
    events: int
    commits: int
    seconds: float
    last_seq: dict[str, int]  # stream -> last sequence

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# Each context's key for this run: `python -m bench` signs the history as the services sign
# theirs, and its readers check it as they check theirs (`reader_trust`).
SEEDS = {name: new_seed() for name in (*CONTEXTS, "bench")}
SIGNERS = {name: EventSigner(seed) for name, seed in SEEDS.items()}


def public_keys() -> str:
    """GT_SIGNING_PUBLIC_KEYS naming this run's keys: a system the bench starts over the
    loaded history trusts them beside its own. The bench route's own key ("bench", its BENCH
    stream, which no service reads) is left out: the setting names the registry's contexts
    only, and a service refuses any other name (correct17)."""
    return ",".join(
        f"{name}={signer.public_key}" for name, signer in SIGNERS.items() if name in CONTEXTS
    )


def reader_trust() -> Trust:
    keys = {name: {signer.public_key} for name, signer in SIGNERS.items()}
    setting = configured(environ=os.environ)  # the settings: signatures, every signature
    return Trust.of(keys, setting.verify_signatures, setting.verify_every_signature)


async def load_history(
    nc: NATS,
    history: History,
    *,
    window: int = 256,
    signers: Mapping[str, EventSigner] | None = None,
) -> LoadResult:
    store = EventStore(nc, CommitClock(), signers=signers)
    contexts = {c.context for c in history.commits}
    for name in sorted(contexts):
        await store.ensure_stream(CONTEXTS[name])
    heads: dict[tuple[str, str, str], AggregateHistory] = {}
    inflight: dict[tuple[str, str, str], asyncio.Task[None]] = {}
    slots = asyncio.Semaphore(window)
    failures: list[BaseException] = []

    async def append(commit: Commit) -> None:
        try:
            context = CONTEXTS[commit.context]
            head = heads.get(commit.key) or AggregateHistory(
                context, commit.aggregate_type, commit.aggregate_id, (), 0
            )
            new = [NewEvent(e.event_type, 1, e.payload, e.occurred_at) for e in commit.events]
            meta = CommandMetadata(commit.command_id, commit.actor, commit.command_id)
            stored = await _append(store, head, new, meta)
            heads[commit.key] = AggregateHistory(
                context, commit.aggregate_type, commit.aggregate_id, (stored[-1],), stored[-1].seq
            )
        except BaseException as exc:
            failures.append(exc)
        finally:
            slots.release()

    started = time.perf_counter()
    for commit in history.commits:
        if failures:
            break
        previous = inflight.get(commit.key)
        if previous is not None and not previous.done():
            await previous
        await slots.acquire()
        token = _recorded_at.set(commit.recorded_at)
        task = asyncio.create_task(append(commit))
        _recorded_at.reset(token)
        inflight[commit.key] = task
        task.add_done_callback(functools.partial(_forget, inflight, commit.key))
    await asyncio.gather(*list(inflight.values()))
    if failures:
        raise RuntimeError(f"loading the history failed: {failures[0]!r}") from failures[0]
    seconds = time.perf_counter() - started
    last = {CONTEXTS[n].stream: await store.last_seq(CONTEXTS[n]) for n in sorted(contexts)}
    return LoadResult(history.event_count, len(history.commits), seconds, last)


async def _append(
    store: EventStore, head: AggregateHistory, new: list[NewEvent], meta: CommandMetadata
) -> list[StoredEvent]:
    """`store.append`, sent again (same message ids) while it times out."""
    for resend in range(RESENDS + 1):
        try:
            return await store.append(head, new, meta)
        except TimeoutError:  # nats' request timeout is one
            if resend == RESENDS:
                raise
            await asyncio.sleep(0.5 * 2**resend)
        except EventStoreError:
            if resend == 0:
                raise
            # Refused after a timeout (a duplicate, the aggregate moved): the first send
            # may have been stored after all. Only the command's own events count.
            now = await store.load(head.context, head.aggregate_type, head.aggregate_id)
            if now.events and now.events[-1].envelope.command_id == meta.command_id:
                return list(now.events[-len(new) :])
            raise
    raise AssertionError("unreachable")


def _forget(
    inflight: dict[tuple[str, str, str], asyncio.Task[None]],
    key: tuple[str, str, str],
    task: asyncio.Task[None],
) -> None:
    if inflight.get(key) is task:
        del inflight[key]
