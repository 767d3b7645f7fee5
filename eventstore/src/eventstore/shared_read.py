"""A rebuild's groups read and check the streams they share once, each a part of it.

The two-process rebuild (`eventstore.split_rebuild`) gives each group of read models a
process of its own; both groups read the enrolment stream (~93% of the events), and reading
a catch-up range and checking it (`eventstore.trust.read_range`: decode, hash, signer, one
verify per hash chain) is ~100 us of CPU an event, paid by each group. Here the ranges of a
shared stream are dealt out among the groups that read it (range i to the i-th of them in
turn, `PipeEnd.owner`): the owner reads and judges its ranges as every tap does and hands
each range's stored bytes with its verdicts through a pipe to the other groups, whose taps
decode the envelopes and take the verdicts instead of reading the broker and judging again.
So the read and the check are split among the groups, not paid by one of them for all
(rebuild13 had one group read for both: total CPU fell, but that group became the slow one,
and the slowest group is the rebuild's wall time).

Why taking the verdicts is as strong as judging: the processes are forked siblings of the
rebuild's process, each installed with the same `TrustSpec` (keys and settings), and the
pipes are anonymous ones the parent made before forking: nothing else can write into them.
The verdicts are per stored bytes and stream position (what `read_range` decides), and each
group keeps its own per-reader `Duplicates` (its runners judge duplicates as ever). The
taking group decodes the very bytes the owner judged, with the same model (`EventEnvelope`).

What is never relied on: that the owner sends everything. A tap reads and judges a range
itself (as without sharing) when the range does not come: its owner stopped reading that
stream, ended or died (end of the pipe), the range came shorter than the runner's head asks
for, it was taken once already (a lagging runner asks for an evicted range again), `HELD`
ranges wait unread, or `WAIT` seconds passed without it. A group never waits for another
beyond the pipe's and `HELD`'s room (a group gone closes its ends). While a tap waits for a
range of another group it reads its own next range: the groups read side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
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
WAIT = STALLED * 6  # seconds a tap waits for another group's range before reading it itself

Key = tuple[str, str]  # stream, subject filter (a tap's key in `eventstore.catchup`)
# key, range index, the range's messages as stored, and the owner's verdict on each
Judged = tuple[Key, int, list[Delivered], list[str | None]]
_END = "end"  # (key, _END): the sending group reads that stream no more


def keys_of(contexts: Iterable[BoundedContext]) -> set[Key]:
    """The taps a group's runners read (each its context's stream, all its events)."""
    return {(c.stream, c.event_subjects) for c in contexts}


@dataclass(frozen=True)
class PipeEnd:
    """A group's part of the sharing: which group reads which range of each shared stream,
    the descriptors it keeps (its write ends to the groups it shares with, its read ends
    from them) and every other pipe descriptor it inherited (closed at once, so that a pipe
    ends when its one writer or reader does)."""

    me: int
    readers: Mapping[Key, tuple[int, ...]]  # a shared stream's groups (this one among them)
    writes: Mapping[int, int]  # group -> the write end of the pipe to it
    reads: Mapping[int, int]  # group -> the read end of the pipe from it
    close: tuple[int, ...]

    def owner(self, key: Key, index: int) -> int:
        """The group that reads and judges range `index` of `key`: the readers in turn."""
        readers = self.readers[key]
        return readers[index % len(readers)]


def pipes(keys: Sequence[set[Key]]) -> tuple[list[PipeEnd | None], list[int]]:
    """For jobs reading `keys` (each job's taps): one pipe from every job to every other it
    shares a stream with. Each job's `PipeEnd` (None for a job that shares nothing) and
    every descriptor made (the parent closes them once it has forked)."""
    jobs = range(len(keys))
    shared = {k for ks in keys for k in ks if sum(k in other for other in keys) > 1}
    readers = {k: tuple(j for j in jobs if k in keys[j]) for k in shared}
    made = {
        (i, j): os.pipe() for i in jobs for j in jobs if i != j and keys[i] & keys[j] & shared
    }  # (from, to) -> (read, write)
    every = [fd for pair in made.values() for fd in pair]
    ends: list[PipeEnd | None] = []
    for me in jobs:
        mine = {k: r for k, r in readers.items() if me in r}
        if not mine:
            ends.append(None)
            continue
        writes = {to: w for (at, to), (_, w) in made.items() if at == me}
        reads = {at: r for (at, to), (r, _) in made.items() if to == me}
        keep = {*writes.values(), *reads.values()}
        ends.append(PipeEnd(me, mine, writes, reads, tuple(fd for fd in every if fd not in keep)))
    return ends, every


def install(nc: NATS, end: PipeEnd) -> Sharing:
    """In a group's process, before its runners start: its taps of the shared streams."""
    for fd in end.close:
        with contextlib.suppress(OSError):
            os.close(fd)
    sharing = Sharing(
        end,
        Sender({to: Connection(fd, readable=False) for to, fd in end.writes.items()}),
        Feed({at: Connection(fd, writable=False) for at, fd in end.reads.items()}),
    )
    taps = _TAPS.setdefault(nc, {})
    for stream, subjects in end.readers:
        taps[stream, subjects] = SharingTap(nc, stream, subjects, sharing)
    return sharing


class Sender:
    """Judged ranges pickled and written to the other groups' pipes, in the order judged, by
    one thread (a write waits while a group's pipe is full; up to `HELD` sends wait behind
    it before the judging tap does)."""

    def __init__(self, connections: Mapping[int, Connection]) -> None:
        self._connections = dict(connections)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared-read-send")
        self._pending: deque[asyncio.Future[None]] = deque()
        self.sent = 0  # ranges (not ends) handed on

    async def send(self, item: tuple[Any, ...], to: Iterable[int]) -> None:
        targets = [t for t in to if t in self._connections]
        if not targets:
            return
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._pool, self._write, item, targets))
        while self._pending and (self._pending[0].done() or len(self._pending) > HELD):
            await self._pending.popleft()

    def _write(self, item: tuple[Any, ...], targets: list[int]) -> None:
        blob = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        for to in targets:
            connection = self._connections.get(to)
            if connection is None:
                continue
            try:
                connection.send_bytes(blob)
            except OSError:  # that group ended (or died): it reads what it needs itself
                del self._connections[to]
                with contextlib.suppress(OSError):
                    connection.close()
        self.sent += item[1] != _END

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for connection in self._connections.values():
            with contextlib.suppress(OSError):
                connection.close()
        self._connections = {}


class Feed:
    """What the other groups send: a thread per pipe reads it into at most `HELD` ranges,
    which this group's taps take by key and index."""

    def __init__(self, connections: Mapping[int, Connection]) -> None:
        self._loop = asyncio.get_running_loop()
        self._held: dict[tuple[Key, int], tuple[list[Delivered], list[str | None]]] = {}
        self._taken: set[tuple[Key, int]] = set()  # taken, or given up on: never kept
        self._waiting: dict[tuple[Key, int], asyncio.Future[None]] = {}
        self._ended: set[tuple[Key, int]] = set()  # (key, group): that group reads it no more
        self._silent: set[int] = set()  # groups whose pipe ended
        self._closed = False  # this group is done
        self._room = threading.Semaphore(HELD)
        self._decoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shared-read-decode")
        self.taken = 0  # ranges taken from another group
        self.read_alone = 0  # ranges of another group read and judged here
        for group, connection in connections.items():
            threading.Thread(
                target=self._receive,
                args=(group, connection),
                name="shared-read-receive",
                daemon=True,
            ).start()

    def _receive(self, group: int, connection: Connection) -> None:
        try:
            while True:
                self._room.acquire()
                if self._closed:
                    break
                try:
                    blob = connection.recv_bytes()
                except (EOFError, OSError):
                    break
                if self._closed:
                    break
                self._loop.call_soon_threadsafe(self._arrived, pickle.loads(blob))
        finally:
            self._room.release()  # the slot this thread acquired last, unused
            with contextlib.suppress(OSError):
                connection.close()  # a group still writing gets an error, not a wait
            with contextlib.suppress(RuntimeError):  # the loop may be gone
                self._loop.call_soon_threadsafe(self._pipe_ended, group)

    def _arrived(self, item: tuple[Any, ...]) -> None:
        if item[1] == _END:
            key, _, group = item
            self._ended.add((key, group))
            self._room.release()
            self._wake(lambda k: k[0] == key)
            return
        key, index, delivered, problems = item
        if (key, index) in self._taken or (key, index) in self._held:
            self._room.release()  # read here already (or sent twice): not kept
            return
        self._held[key, index] = (delivered, problems)
        self._wake(lambda k: k == (key, index))

    def _pipe_ended(self, group: int) -> None:
        self._silent.add(group)
        self._wake(lambda _k: True)  # the waiting look again (`_gone`)

    def _wake(self, which: Any) -> None:
        for k in [k for k in self._waiting if which(k)]:
            future = self._waiting.pop(k)
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """This group is done: the threads stop reading (and close their ends)."""
        self._closed = True
        for _ in range(2 * HELD):
            self._room.release()
        self._decoding.shutdown(wait=False)

    def _gone(self, key: Key, owner: int) -> bool:
        return self._closed or owner in self._silent or (key, owner) in self._ended

    async def take(self, key: Key, index: int, owner: int, stream: str) -> list[StoredEvent] | None:
        """The range as its owner read and judged it, decoded here; None when it is not to
        be had (the tap then reads it itself)."""
        at = (key, index)
        if at not in self._held:
            if at in self._taken:
                return None
            if len(self._held) >= HELD:  # far behind the others: their ranges wait unread
                self._taken.add(at)  # from here on, an arrival of it is dropped
                return None
            deadline = self._loop.time() + WAIT
            while at not in self._held and not self._gone(key, owner):
                future = self._waiting.setdefault(at, self._loop.create_future())
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), remaining)
            if at not in self._held:
                self._taken.add(at)
                return None
        delivered, problems = self._held.pop(at)
        self._taken.add(at)
        self._room.release()
        self.taken += 1
        return await self._loop.run_in_executor(
            self._decoding, decoded, stream, delivered, problems
        )


@dataclass(frozen=True)
class Sharing:
    """A group's sharing, installed: what its taps send and take."""

    end: PipeEnd
    sender: Sender
    feed: Feed

    def note(self) -> str:
        """What it handed on and took, for the bench's note."""
        return (
            f"judged {self.sender.sent} ranges for the others, took {self.feed.taken}, "
            f"read {self.feed.read_alone} of theirs alone"
        )

    def close(self) -> None:
        self.sender.close()
        self.feed.close()


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
            except ValidationError as exc:  # not what the owner decoded: refuse it
                problem = f"{UNDECODABLE}: not a valid event envelope ({exc.error_count()} errors)"
        if envelope is None:
            envelope = _placeholder(subject, stream)
        events.append(StoredEvent(envelope, stream, seq, subject, traceparent, refused=problem))
    return events


class SharingTap(_StreamTap):
    """A shared stream's tap: its own ranges read, judged and handed to the other groups;
    the others' ranges taken from them when they come whole, else read here."""

    def __init__(self, nc: NATS, stream: str, subject_filter: str, sharing: Sharing) -> None:
        super().__init__(nc, stream, subject_filter)
        self._sharing = sharing
        self._key: Key = (stream, subject_filter)

    def _others(self) -> list[int]:
        me = self._sharing.end.me
        return [g for g in self._sharing.end.readers[self._key] if g != me]

    async def _read(self, index: int, head: int) -> list[StoredEvent]:
        end = self._sharing.end
        owner = end.owner(self._key, index)
        if owner == end.me:
            delivered = await self._fetch(index, head)
            events = await _judged(trust_of(self._nc), self._stream, delivered)
            item = (self._key, index, delivered, [e.refused for e in events])
            await self._sharing.sender.send(item, self._others())
            return events
        self._read_own_next(index, head)
        feed = self._sharing.feed
        fed = await feed.take(self._key, index, owner, self._stream)
        if fed is not None:
            first = index * CATCH_UP_BATCH + 1
            count = min(CATCH_UP_BATCH, head - first + 1)
            events = fed[:count]  # the owner's head may lie further on
            if len(events) == count:
                return events
            # Shorter than this runner's head asks (the stream grew between the two starts).
        feed.read_alone += 1
        return await super()._read(index, head)

    def _read_own_next(self, index: int, head: int) -> None:
        """While this tap waits for another group's range, its own next one is read (the
        runners' read-ahead asks only one range ahead, and that one is not this group's)."""
        end = self._sharing.end
        for ahead in range(index + 1, index + 1 + len(end.readers[self._key])):
            if ahead * CATCH_UP_BATCH >= head:
                return
            if end.owner(self._key, ahead) == end.me:
                self._range(ahead, head)
                return

    def leave(self, member: object) -> None:
        super().leave(member)
        if not self.members:  # its runners caught up (or gave up): say so, none wait for it
            task = asyncio.get_running_loop().create_task(
                self._sharing.sender.send((self._key, _END, self._sharing.end.me), self._others())
            )
            _ENDINGS.add(task)
            task.add_done_callback(_ENDINGS.discard)


_ENDINGS: set[asyncio.Task[None]] = set()  # sends of ends under way (kept from collection)
