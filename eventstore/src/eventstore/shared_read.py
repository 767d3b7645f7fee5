"""A rebuild's groups read and check the streams they share once, not once per group.

The two-process rebuild (`eventstore.split_rebuild`) gives each group of read models a
process of its own; both groups read the enrolment stream (~93% of the events), and reading
a catch-up range and checking it (`eventstore.trust.read_range`: decode, hash, signer, one
verify per hash chain) is ~100 us of CPU an event, paid by each group. Here one group (the
feeder) reads and judges each shared range as before and hands the range's stored bytes with
its verdicts through a pipe to the other groups (the fed), whose taps decode the envelopes
and take the verdicts instead of reading the broker and judging again.

Why taking the verdicts is as strong as judging: the processes are forked siblings of the
rebuild's process, each installed with the same `TrustSpec` (keys and settings), and the
pipe is an anonymous one the parent made before forking: nothing else can write into it. The
verdicts are per stored bytes and stream position (what `read_range` decides), and the fed
group keeps its own per-reader `Duplicates` (its runners judge duplicates as ever). The fed
group decodes the very bytes the feeder judged, with the same model (`EventEnvelope`).

What is never relied on: that the feeder sends everything. A fed tap reads and judges a
range itself (as without sharing) when the range does not come: the feeder stopped reading
that stream, ended or died (end of the pipe), the range came shorter than the fed runner's
head asks for, it was taken once already (a lagging runner asks for an evicted range
again), or the fed group lags so far that `HELD` ranges wait unread. The feeder never
waits for the fed beyond the pipe's and `HELD`'s room (a fed group gone closes its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from nats.aio.client import Client as NATS
from pydantic import ValidationError

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.catchup import _TAPS, CATCH_UP_BATCH, STALLED, _judged, _StreamTap
from eventstore.records import StoredEvent
from eventstore.trust import UNDECODABLE, Delivered, _placeholder, trust_of

log = logging.getLogger(__name__)

HELD = 12  # ranges received and not yet taken, at most (~3 MB each at 2,000 events)
WAIT = STALLED * 6  # seconds a fed tap waits for a range before reading it itself

Key = tuple[str, str]  # stream, subject filter (a tap's key in `eventstore.catchup`)
# key, range index, the range's messages as stored, and the feeder's verdict on each
Judged = tuple[Key, int, list[Delivered], list[str | None]]
_END = "end"  # (key, _END): the feeder reads that stream no more


def keys_of(contexts: Iterable[BoundedContext]) -> set[Key]:
    """The taps a group's runners read (each its context's stream, all its events)."""
    return {(c.stream, c.event_subjects) for c in contexts}


@dataclass(frozen=True)
class PipeEnd:
    """A group's part of the sharing: the descriptors it keeps (its ends of the pipes it
    inherited from the parent) and every other pipe descriptor it inherited (closed at once,
    so that a pipe ends when its one writer or reader does)."""

    feeds: bool  # True: the feeder (keeps write ends); False: fed (keeps one read end)
    keep: tuple[int, ...]
    close: tuple[int, ...]
    keys: frozenset[Key]  # the shared taps


def pipes(jobs: int, feeder: int, keys: set[Key]) -> tuple[list[PipeEnd | None], list[int]]:
    """One pipe from the feeder to every other job: each job's `PipeEnd` (None for a job that
    shares nothing) and every descriptor made (the parent closes them once it has forked)."""
    if jobs < 2 or not keys:
        return [None] * jobs, []
    made = {i: os.pipe() for i in range(jobs) if i != feeder}  # fed job -> (read, write)
    every = [fd for pair in made.values() for fd in pair]
    ends: list[PipeEnd | None] = []
    for i in range(jobs):
        keep = tuple(w for _, w in made.values()) if i == feeder else (made[i][0],)
        ends.append(
            PipeEnd(i == feeder, keep, tuple(fd for fd in every if fd not in keep), frozenset(keys))
        )
    return ends, every


def install(nc: NATS, end: PipeEnd) -> Sender | Feed:
    """In a group's process, before its runners start: its taps of the shared streams."""
    for fd in end.close:
        with contextlib.suppress(OSError):
            os.close(fd)
    taps = _TAPS.setdefault(nc, {})
    if end.feeds:
        sender = Sender([Connection(fd, readable=False) for fd in end.keep])
        for stream, subjects in end.keys:
            taps[stream, subjects] = FeedingTap(nc, stream, subjects, sender)
        return sender
    feed = Feed(Connection(end.keep[0], writable=False))
    for stream, subjects in end.keys:
        taps[stream, subjects] = FedTap(nc, stream, subjects, feed)
    return feed


class Sender:
    """The feeder's side: judged ranges pickled and written to every fed group's pipe, in
    the order judged, by one thread (a write waits while a fed group's pipe is full)."""

    def __init__(self, connections: list[Connection]) -> None:
        self._connections = connections
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared-read-send")
        self.sent = 0  # ranges (not ends) handed on

    async def send(self, item: tuple[Any, ...]) -> None:
        if self._connections:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._write, item)

    def _write(self, item: tuple[Any, ...]) -> None:
        blob = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        for connection in list(self._connections):
            try:
                connection.send_bytes(blob)
            except OSError:  # the fed group ended (or died): it reads what it needs itself
                self._connections.remove(connection)
                with contextlib.suppress(OSError):
                    connection.close()
        self.sent += item[1] != _END

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.close()
        self._connections = []


class FeedingTap(_StreamTap):
    """The feeder's tap: reads and judges as every tap does, and hands on what it judged."""

    def __init__(self, nc: NATS, stream: str, subject_filter: str, sender: Sender) -> None:
        super().__init__(nc, stream, subject_filter)
        self._sender = sender

    async def _read(self, index: int, head: int) -> list[StoredEvent]:
        delivered = await self._fetch(index, head)
        events = await _judged(trust_of(self._nc), self._stream, delivered)
        key = (self._stream, self._filter)
        await self._sender.send((key, index, delivered, [e.refused for e in events]))
        return events

    def leave(self, member: object) -> None:
        super().leave(member)
        if not self.members:  # its runners caught up (or gave up): say so, the fed stop waiting
            task = asyncio.get_running_loop().create_task(
                self._sender.send(((self._stream, self._filter), _END))
            )
            _ENDINGS.add(task)
            task.add_done_callback(_ENDINGS.discard)


_ENDINGS: set[asyncio.Task[None]] = set()  # sends of ends under way (kept from collection)


class Feed:
    """A fed group's side: a thread reads the pipe into at most `HELD` ranges, which the
    group's taps take by key and index."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._loop = asyncio.get_running_loop()
        self._held: dict[tuple[Key, int], tuple[list[Delivered], list[str | None]]] = {}
        self._taken: set[tuple[Key, int]] = set()
        self._waiting: dict[tuple[Key, int], asyncio.Future[None]] = {}
        self._ended: set[Key] = set()
        self._closed = False  # the pipe ended, or this group is done
        self._room = threading.Semaphore(HELD)
        self._decoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared-read-decode")
        self.taken = 0  # ranges taken from the feeder
        self.read_alone = 0  # ranges of a shared stream read and judged here
        threading.Thread(target=self._receive, name="shared-read-receive", daemon=True).start()

    def _receive(self) -> None:
        try:
            while True:
                self._room.acquire()
                if self._closed:
                    break
                try:
                    blob = self._connection.recv_bytes()
                except (EOFError, OSError):
                    break
                if self._closed:
                    break
                self._loop.call_soon_threadsafe(self._arrived, pickle.loads(blob))
        finally:
            with contextlib.suppress(OSError):
                self._connection.close()  # a feeder still writing gets an error, not a wait
            with contextlib.suppress(RuntimeError):  # the loop may be gone
                self._loop.call_soon_threadsafe(self._end_all)

    def _arrived(self, item: tuple[Any, ...]) -> None:
        if item[1] == _END:
            self._ended.add(item[0])
            self._room.release()
            self._wake(lambda k: k[0] == item[0])
            return
        key, index, delivered, problems = item
        if (key, index) in self._taken or (key, index) in self._held:
            self._room.release()  # read here already (or sent twice): not kept
            return
        self._held[key, index] = (delivered, problems)
        self._wake(lambda k: k == (key, index))

    def _end_all(self) -> None:
        self._closed = True
        self._wake(lambda _k: True)

    def _wake(self, which: Any) -> None:
        for k in [k for k in self._waiting if which(k)]:
            future = self._waiting.pop(k)
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """This group is done: the thread stops reading (and closes its end)."""
        self._closed = True
        for _ in range(HELD + 1):
            self._room.release()
        self._decoding.shutdown(wait=False)

    async def take(self, key: Key, index: int, stream: str) -> list[StoredEvent] | None:
        """The range as the feeder read and judged it, decoded here; None when it is not to
        be had (the tap then reads it itself)."""
        at = (key, index)
        if at not in self._held:
            if at in self._taken or self._closed or key in self._ended:
                return None
            if len(self._held) >= HELD:  # far behind the feeder: its ranges wait unread
                return None
            future = self._waiting.setdefault(at, self._loop.create_future())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(future), WAIT)
            if at not in self._held:
                self._taken.add(at)  # a late arrival is dropped
                return None
        delivered, problems = self._held.pop(at)
        self._taken.add(at)
        self._room.release()
        self.taken += 1
        return await self._loop.run_in_executor(
            self._decoding, decoded, stream, delivered, problems
        )


def decoded(
    stream: str, delivered: Sequence[Delivered], problems: Sequence[str | None]
) -> list[StoredEvent]:
    """The `StoredEvent`s of a range judged elsewhere: each envelope decoded from the bytes
    judged, with its verdict (an undecodable one with `read_range`'s placeholder)."""
    events = []
    for (subject, seq, data, traceparent), problem in zip(delivered, problems, strict=True):
        envelope = None
        if problem is None or not problem.startswith(UNDECODABLE):
            try:
                envelope = EventEnvelope.model_validate_json(data)
            except ValidationError as exc:  # not what the feeder decoded: refuse it
                problem = f"{UNDECODABLE}: not a valid event envelope ({exc.error_count()} errors)"
        if envelope is None:
            envelope = _placeholder(subject, stream)
        events.append(StoredEvent(envelope, stream, seq, subject, traceparent, refused=problem))
    return events


class FedTap(_StreamTap):
    """A fed group's tap: each range from the feeder when it comes whole, else read here."""

    def __init__(self, nc: NATS, stream: str, subject_filter: str, feed: Feed) -> None:
        super().__init__(nc, stream, subject_filter)
        self._feed = feed

    async def _read(self, index: int, head: int) -> list[StoredEvent]:
        fed = await self._feed.take((self._stream, self._filter), index, self._stream)
        if fed is not None:
            first = index * CATCH_UP_BATCH + 1
            count = min(CATCH_UP_BATCH, head - first + 1)
            events = fed[:count]  # the feeder's head may lie further on
            if len(events) == count:
                return events
            # Shorter than this runner's head asks (the stream grew between the two starts).
        self._feed.read_alone += 1
        return await super()._read(index, head)
