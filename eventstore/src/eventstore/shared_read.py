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

What is never relied on: that the other group sends, reads or lives (review17 #1-#3). A tap
reads and judges a range itself (as without sharing) when the range does not come: its owner
stopped reading that stream, ended or died (end of the pipe), said it skipped it (its
outbox to this group was full), the range came shorter than the runner's head asks for, it
was taken once already (a lagging runner asks for an evicted range again), this group's
room for that stream was full when it came, or `WAIT` seconds passed without it (from then
on that owner's ranges of that stream are all read here: a slow peer is not waited for
twice). Nothing here blocks on the other process: the pipes are non-blocking and served by
the event loop (`loop.add_reader`/`add_writer`), a write that does not fit waits in an
outbox of at most `OUTBOX` ranges (beyond it the range is skipped, and a small notice says
so), and the reading side always drains its pipe (a range it has no room for is dropped and
read here when needed). A group's process owns its two descriptors per peer from its start
(`Pipes.adopt`, run first in the group's fresh process, before anything else opens a
descriptor) and closes them when its job ends, whichever way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import pickle
import struct
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS
from pydantic import ValidationError

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.catchup import _TAPS, CATCH_UP_BATCH, STALLED, _judged, _StreamTap
from eventstore.records import StoredEvent
from eventstore.trust import UNDECODABLE, Delivered, _placeholder, trust_of

log = logging.getLogger(__name__)

HELD = 12  # ranges of one stream received and not yet taken, at most (~3 MB each)
OUTBOX = 4  # ranges waiting to be written to one group, at most (beyond: skipped)
WAIT = STALLED * 6  # seconds a tap waits for another group's range before reading it itself
PIPE_SIZE = 1 << 20  # asked of the kernel (Linux's unprivileged maximum): fewer wake-ups
READ_CHUNK = 1 << 20
READS_AT_ONCE = 8  # reads of one pipe per wake-up, at most

Key = tuple[str, str]  # stream, subject filter (a tap's key in `eventstore.catchup`)
# What goes through a pipe (pickled, after an 8-byte length):
# ("range", key, index, the range's messages as stored, the owner's verdict on each)
# ("skip", key, index): not sent (the sender's outbox was full): read it yourself
# ("end", key, group): the sending group reads that stream no more
_FRAME = struct.Struct("!Q")


def keys_of(contexts: Iterable[BoundedContext]) -> set[Key]:
    """The taps a group's runners read (each its context's stream, all its events)."""
    return {(c.stream, c.event_subjects) for c in contexts}


@dataclass(frozen=True)
class PipeEnd:
    """A group's part of the sharing: which group reads which range of each shared stream,
    the descriptors it keeps (its write ends to the groups it shares with, its read ends
    from them) and every other pipe descriptor it inherited (closed first thing in its own
    fresh process, so that a pipe ends when its one writer or reader does)."""

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
    made: dict[tuple[int, int], tuple[int, int]] = {}  # (from, to) -> (read, write)
    for i in jobs:
        for j in jobs:
            if i != j and keys[i] & keys[j] & shared:
                made[i, j] = os.pipe()
                with contextlib.suppress(OSError, AttributeError):  # a hint only
                    fcntl_setpipe_sz(made[i, j][1], PIPE_SIZE)
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


def fcntl_setpipe_sz(fd: int, size: int) -> None:
    import fcntl

    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


@dataclass
class Pipes:
    """A group's own pipe descriptors, owned from its process's start to its job's end."""

    end: PipeEnd
    open: set[int] = field(default_factory=set)

    @classmethod
    def adopt(cls, end: PipeEnd) -> Pipes:
        """First thing in the group's fresh process (a process per group, forked for this
        job alone: the inherited numbers are still the parent's pipes, nothing here has
        opened a descriptor yet): every other group's descriptors closed, its own made
        non-blocking and owned (`close` at the job's end, in every path)."""
        for fd in end.close:
            with contextlib.suppress(OSError):
                os.close(fd)
        pipes = cls(end, {*end.writes.values(), *end.reads.values()})
        for fd in pipes.open:
            os.set_blocking(fd, False)
        return pipes

    def release(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        for fd in list(self.open):
            self.release(fd)


def install(nc: NATS, pipes: Pipes) -> Sharing:
    """In a group's process, before its runners start: its taps of the shared streams."""
    end = pipes.end
    sharing = Sharing(
        end,
        Sender({to: fd for to, fd in end.writes.items()}, pipes.release),
        Feed({at: fd for at, fd in end.reads.items()}, pipes.release),
    )
    taps = _TAPS.setdefault(nc, {})
    for stream, subjects in end.readers:
        taps[stream, subjects] = SharingTap(nc, stream, subjects, sharing)
    return sharing


class _Outbox:
    """What waits to be written to one group's pipe, written whenever the pipe has room."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.frames: deque[memoryview] = deque()
        self.ranges = 0  # of `frames`, those that are ranges (not notices)
        self.kinds: deque[bool] = deque()  # per frame: a range


class Sender:
    """Judged ranges written to the other groups' pipes, in the order judged, by the event
    loop as each pipe has room: `send` never waits. A group whose outbox holds `OUTBOX`
    ranges (it does not read: slow, stuck, or holding what it has no room for) is sent a
    small "skip" notice instead of the range; a group whose pipe ended is sent nothing."""

    def __init__(self, fds: Mapping[int, int], release: Callable[[int], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._out = {to: _Outbox(fd) for to, fd in fds.items()}
        self._release = release
        self._idle = asyncio.Event()  # nothing waits to be written
        self._idle.set()
        # Distinct ranges, not sends: a group whose readers all left and one joins again
        # reads (and hands on) a range a second time (CI, stop 40), counted once.
        self._sent: set[tuple[Key, int]] = set()  # handed on, to any group
        self._skipped: set[tuple[Key, int, int]] = set()  # (range, group) given a notice

    @property
    def sent(self) -> int:
        return len(self._sent)

    @property
    def skipped(self) -> int:
        return len(self._skipped)

    def send(self, item: tuple[Any, ...], to: Iterable[int]) -> None:
        targets = [self._out[t] for t in to if t in self._out]
        if not targets:
            return
        is_range = item[0] == "range"
        blob: memoryview | None = None
        for out in targets:
            if is_range and out.ranges >= OUTBOX:
                self._skipped.add((item[1], item[2], self._to(out)))
                self._queue(out, _framed(("skip", item[1], item[2])), False)
                continue
            if blob is None:
                blob = _framed(item)
            self._queue(out, blob, is_range)
        if is_range and blob is not None:
            self._sent.add((item[1], item[2]))

    def _queue(self, out: _Outbox, frame: memoryview, is_range: bool) -> None:
        idle = not out.frames
        self._idle.clear()
        out.frames.append(frame)
        out.kinds.append(is_range)
        out.ranges += is_range
        if idle:
            self._write(out)
            if out.frames:  # (a pipe that ended has none: `_drop` cleared them)
                self._loop.add_writer(out.fd, self._write, out)

    def _to(self, out: _Outbox) -> int:
        return next((t for t, o in self._out.items() if o is out), -1)

    def _write(self, out: _Outbox) -> None:
        while out.frames:
            frame = out.frames[0]
            try:
                written = os.write(out.fd, frame)
            except BlockingIOError:
                return  # the pipe is full: the loop calls again when it has room
            except OSError:  # that group ended (or died): it reads what it needs itself
                self._drop(out)
                return
            if written < len(frame):
                out.frames[0] = frame[written:]
                continue
            out.frames.popleft()
            out.ranges -= out.kinds.popleft()
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            self._loop.remove_writer(out.fd)
        self._is_idle()

    def _is_idle(self) -> None:
        if not any(out.frames for out in self._out.values()):
            self._idle.set()

    def _drop(self, out: _Outbox) -> None:
        to = self._to(out)
        self._out.pop(to, None)
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            self._loop.remove_writer(out.fd)
        out.frames.clear()
        self._release(out.fd)
        self._is_idle()

    def pending(self) -> int:
        """Bytes not yet written, to every group."""
        return sum(len(f) for out in self._out.values() for f in out.frames)

    async def close(self, grace: float = STALLED) -> None:
        """This group is done: what waits is written if the other groups read it within
        `grace` seconds (they need it: they are behind), then the pipes closed (what is left
        is read by the other groups themselves)."""
        if self.pending():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        for out in list(self._out.values()):
            self._drop(out)


def _framed(item: tuple[Any, ...]) -> memoryview:
    blob = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    return memoryview(_FRAME.pack(len(blob)) + blob)


class Feed:
    """What the other groups send: each pipe drained by the event loop whenever it has
    bytes (never left full: a sender is never held), into at most `HELD` ranges per stream,
    which this group's taps take by key and index."""

    def __init__(self, fds: Mapping[int, int], release: Callable[[int], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._release = release
        self._held: dict[tuple[Key, int], tuple[list[Delivered], list[str | None]]] = {}
        self._room: dict[Key, int] = {}  # ranges held per stream
        self._taken: set[tuple[Key, int]] = set()  # taken, skipped or given up on: never kept
        self._waiting: dict[tuple[Key, int], asyncio.Future[None]] = {}
        self._ended: set[tuple[Key, int]] = set()  # (key, group): not waited for any more
        self._silent: set[int] = set()  # groups whose pipe ended
        self._fds = dict(fds)  # group -> read end
        self._buffers = {group: bytearray() for group in fds}
        self._forgotten: set[Key] = set()  # streams this group reads no more
        self._closed = False  # this group is done
        # Distinct ranges (a reader joining again asks for a range a second time).
        self._took: set[tuple[Key, int]] = set()  # taken from another group
        self._alone: set[tuple[Key, int]] = set()  # another group's, read and judged here
        self.dropped = 0  # arrived with no room for their stream
        for group, fd in fds.items():
            self._loop.add_reader(fd, self._readable, group)

    def _readable(self, group: int) -> None:
        fd = self._fds.get(group)
        if fd is None:
            return
        buffer = self._buffers[group]
        ended = False
        for _ in range(READS_AT_ONCE):  # then the others' turn: the loop calls again
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                chunk = b""
            if not chunk:  # the other group's end closed: it ended or died
                ended = True
                break
            buffer += chunk
        while len(buffer) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer)
            if len(buffer) < _FRAME.size + size:
                break
            try:
                with memoryview(buffer) as view, view[_FRAME.size : _FRAME.size + size] as frame:
                    item = pickle.loads(frame)
            except Exception:  # not what a group sends: nothing more taken from that pipe
                log.exception("a frame from group %d not read: its ranges are read here", group)
                ended = True
                break
            del buffer[: _FRAME.size + size]  # (no view of it left: it may shrink)
            self._arrived(item)
        if ended:  # after what came whole before the end (a part of one is not used)
            self._pipe_ended(group)

    def _arrived(self, item: tuple[Any, ...]) -> None:
        kind, key = item[0], item[1]
        if kind == "end":
            self._ended.add((key, item[2]))
            self._wake(lambda k: k[0] == key)
            return
        at = (key, item[2])
        if kind == "skip":
            self._taken.add(at)
            self._wake(lambda k: k == at)
            return
        if at in self._taken or at in self._held or key in self._forgotten:
            self._taken.add(at)
            self._wake(lambda k: k == at)  # a reader asking for it reads it itself, now
            return  # read here already (or sent twice, or no reader left): not kept
        if self._room.get(key, 0) >= HELD and at not in self._waiting:
            self._taken.add(at)  # no room for it: read here when it is needed
            self.dropped += 1
            return
        self._held[at] = (item[3], item[4])
        self._room[key] = self._room.get(key, 0) + 1
        self._wake(lambda k: k == at)

    def _pipe_ended(self, group: int) -> None:
        fd = self._fds.pop(group, None)
        if fd is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self._loop.remove_reader(fd)
            self._release(fd)
        self._buffers.pop(group, None)
        self._silent.add(group)
        self._wake(lambda _k: True)  # the waiting look again (`_gone`)

    def _wake(self, which: Any) -> None:
        for k in [k for k in self._waiting if which(k)]:
            future = self._waiting.pop(k)
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """This group is done: its read ends closed (a group still writing gets an error,
        not a wait), the ranges held let go."""
        self._closed = True
        for group in list(self._fds):
            self._pipe_ended(group)
        self._held.clear()
        self._room.clear()

    def _gone(self, key: Key, owner: int) -> bool:
        return self._closed or owner in self._silent or (key, owner) in self._ended

    def forget(self, key: Key) -> None:
        """This group's readers of `key` are done: what is held of it goes, and what comes
        later is not kept (a reader joining again reads it itself)."""
        self._forgotten.add(key)
        for at in [at for at in self._held if at[0] == key]:
            del self._held[at]
            self._taken.add(at)
        self._room.pop(key, None)

    async def take(self, key: Key, index: int, owner: int, stream: str) -> list[StoredEvent] | None:
        """The range as its owner read and judged it, decoded here; None when it is not to
        be had (the tap then reads it itself). Waits at most `WAIT` seconds, once per owner
        and stream: a range that does not come in that time marks the owner slow, and its
        further ranges of that stream are read here without waiting."""
        at = (key, index)
        self._forgotten.discard(key)  # a reader of it again (review18 #2): keep what comes
        if at not in self._held:
            if at in self._taken:
                return None
            deadline = self._loop.time() + WAIT
            while at not in self._held and at not in self._taken and not self._gone(key, owner):
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    log.info(
                        "range %d of %s did not come from group %d: read here", index, key, owner
                    )
                    self._ended.add((key, owner))
                    break
                future = self._waiting.setdefault(at, self._loop.create_future())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), remaining)
            if at not in self._held:
                self._taken.add(at)
                return None
        delivered, problems = self._held.pop(at)
        self._room[key] -= 1
        self._taken.add(at)
        self._took.add(at)
        return decoded(stream, delivered, problems)

    def read_here(self, key: Key, index: int) -> None:
        """Another group's range was read and judged here (not had, or not whole)."""
        self._alone.add((key, index))

    @property
    def taken(self) -> int:
        return len(self._took)

    @property
    def read_alone(self) -> int:
        """Ranges of the others read here and never taken from them."""
        return len(self._alone - self._took)


@dataclass(frozen=True)
class Sharing:
    """A group's sharing, installed: what its taps send and take."""

    end: PipeEnd
    sender: Sender
    feed: Feed

    def note(self) -> str:
        """What it handed on and took, for the bench's note."""
        return (
            f"judged {self.sender.sent} ranges for the others ({self.sender.skipped} skipped), "
            f"took {self.feed.taken}, read {self.feed.read_alone} of theirs alone"
        )

    async def close(self) -> None:
        self.feed.close()
        await self.sender.close()


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
            try:
                delivered = await self._fetch(index, head)
                events = await _judged(trust_of(self._nc), self._stream, delivered)
            except BaseException:
                # The others read it themselves at once rather than wait `WAIT` for it.
                with contextlib.suppress(Exception):  # the read's own error is what counts
                    self._sharing.sender.send(("skip", self._key, index), self._others())
                raise
            item = ("range", self._key, index, delivered, [e.refused for e in events])
            self._sharing.sender.send(item, self._others())
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
        feed.read_here(self._key, index)
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
            self._sharing.sender.send(("end", self._key, self._sharing.end.me), self._others())
            self._sharing.feed.forget(self._key)
