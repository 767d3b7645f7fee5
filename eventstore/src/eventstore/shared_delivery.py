"""One live delivery of a stream for every read model of a process that follows it (#18).

In the gateway's projector five read models follow the registry stream (and five the
enrolment stream). Each had a consumer of its own: every event was delivered, decoded and
trust-checked five times, and applied in five transactions, each its own SQLite writer turn,
begin, checkpoint upsert and commit. fresh14's profile: the runner threads spent over half
their busy time waiting for that writer turn, mostly for the others' per-transaction work.

Here a `SharedDelivery` per (database, stream) reads the stream once (one `LivePull`), decodes
and judges each event once (`subscription.read_batch`), and applies the batch to every
member in ONE transaction (`projection.apply_together`: one writer turn, each read model's
checkpoint written in it). A read model joins only when it is level: its own subscriber
(`SharedMember`, a `CatchUpSubscriber`) catches up alone, in bulk when far behind, live
after that, and asks to join between two of the shared delivery's batches, when its
checkpoint is at or past the shared position (a member ahead skips what it has, by its
checkpoint, as after any redelivery). A member that cannot apply a batch even alone (after
the shared transaction was rolled back and the batch applied one read model at a time) is
taken out; it retries alone from its checkpoint, as a runner without sharing does, and joins
again once it applied a batch alone and is level.

A slow member never sets the others' pace (fresh16; token13's promise: a query waits only
for the read models it reads). Each member prepares a batch (its batch lock, decoding, folds,
rows: `ProjectionRunner._before_turn`) in a thread of its own; the shared transaction takes
the members ready when the first one is, plus as long again as that one took (at least
`STRAGGLER_WAIT`). A member not ready then -- held back, busy with another stream's batch,
slow -- is left out: its thread applies that batch alone when it is prepared, the batches
that come meanwhile wait for it in order (`SharedMember.backlog`) and are applied alone
after it, and it is in the shared transactions again from the first batch after its backlog
is empty. One left `BACKLOG` events behind gives its place up and reads on its own consumer
(as a failing one), joining again when level.

Only read models readers wait for (`Projection.awaited`), on SQLite, fed by JetStream share
a delivery: a read model nobody waits for (the audit's history) would make every awaited
commit wait for its slower fold; PostgreSQL has no single writer to save turns of, and its
replicas elect a leader per read model (one process need not lead them all).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.subjects import BoundedContext
from eventstore.catchup import CatchUpSubscriber
from eventstore.live_pull import LivePull, stream_sequence
from eventstore.observability import projection_span
from eventstore.records import StoredEvent
from eventstore.subscription import delivery, read_batch
from eventstore.tasks import cancel_and_wait

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from eventstore.projection import Ahead, ProjectionRunner, Together

log = logging.getLogger(__name__)
T = TypeVar("T")

SAY_EVERY = 60.0  # seconds between two accounts of the writer turn in the log
# A member whose batch is not prepared when the first member's is, plus as long again as
# that one took (at least STRAGGLER_WAIT), is left out of the shared transaction: it
# applies the batch alone, and what comes meanwhile, then is level again (`Offer`).
STRAGGLER_WAIT = 0.05  # seconds (`projection.FAIR_TURN`)
# A member left out that falls this many events behind gives its place up altogether: it
# reads the stream on its own consumer from its checkpoint and joins again when level.
BACKLOG = 2_000


class Behind(Exception):
    """A member left too far behind the shared delivery to keep its events in memory."""


class Offer:
    """One member's part in one shared batch. Its thread prepares the batch under the read
    model's batch lock (`prepare_offered`) and offers it; the shared delivery closes the
    offer when it stops waiting (`_ready_in_time`). Offered before the close: taken into
    the shared transaction, which releases the lock. Not yet: the member's thread applies
    the batch alone, in a transaction of its own, and the delivery feeds the member alone
    until it is level again -- a slow, held or failing read model never sets the others'
    pace."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._guard = threading.Lock()
        self._ahead: Ahead | None = None
        self._closed = False
        self.ready = asyncio.Event()  # prepared, or failed to
        self.stages: dict[str, float] = {}  # its thread's (announced with the commit's)

    def settle(self, ahead: Ahead | None, stages: dict[str, float]) -> bool:
        """From the member's thread: its batch prepared (None: it failed to); True if the
        shared transaction takes it, and the batch lock with it."""
        with self._guard:
            taken = ahead is not None and not self._closed
            if taken:
                self._ahead = ahead
                self.stages = stages
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            self._loop.call_soon_threadsafe(self.ready.set)
        return taken

    def close(self) -> Ahead | None:
        """The shared transaction goes now: the member's prepared batch if it is in it."""
        with self._guard:
            self._closed = True
            return self._ahead


def prepare_offered(
    runner: ProjectionRunner,
    stream: str,
    events: list[StoredEvent],
    stages: dict[str, float],
    offer: Offer,
) -> int | None:
    """In the member's own thread: take its batch lock, prepare `events`, offer them. None:
    the shared transaction took them (and will release the lock); otherwise they were
    applied here alone, the new checkpoint returned."""
    from eventstore.projection import writer_turn

    stages = {**stages, "thread": time.time()}
    runner._one_batch.acquire()
    stages["locked"] = time.time()
    handed = False
    try:
        try:
            ahead = runner._before_turn(stream, events, stages)
        except BaseException:
            offer.settle(None, stages)
            raise
        handed = offer.settle(ahead, stages)
        if handed:
            return None
        turn = writer_turn(runner.engine)
        if turn is not None:
            turn.for_owner(runner.projection.key)
        try:
            return runner._apply_prepared(stream, events, ahead, stages)
        finally:
            if turn is not None:
                turn.for_owner(None)
    except BaseException:
        runner._rolled_back()  # its memory ran ahead of a transaction that did not commit
        raise
    finally:
        if not handed:
            runner._one_batch.release()


def _speculate_quietly(
    runner: ProjectionRunner, stream: str, events: list[StoredEvent], after: int
) -> None:
    """`runner.speculate`, a failure only logged: the next batch prepares it in its turn."""
    try:
        runner.speculate(stream, events, after)
    except Exception:
        log.warning("read model %s: preparing ahead failed", runner.projection.key, exc_info=True)
        runner._forget()


def in_thread(
    thread: ThreadPoolExecutor, call: Callable[..., T], *args: object
) -> asyncio.Future[T]:
    """`call(*args)` in `thread`, in this task's context (as `asyncio.to_thread`: the
    mutation's trace span goes with it)."""
    context = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(thread, context.run, call, *args)


async def _ready_in_time(offers: list[Offer]) -> None:
    """Until every offer is settled, or `STRAGGLER_WAIT` (at least; as long as the first
    took, if longer) after the first one is."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    waits = {asyncio.ensure_future(offer.ready.wait()) for offer in offers}
    try:
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            patience = max(STRAGGLER_WAIT, loop.time() - began)
            await asyncio.wait(pending, timeout=patience)
    finally:
        for wait in waits:
            wait.cancel()


class SharedDelivery:
    """One stream's live delivery into every member's read model, one transaction a batch."""

    def __init__(
        self, nc: NATS, context: BoundedContext, subject_filter: str, durable: str, batch: int
    ) -> None:
        self._nc = nc
        self._context = context
        self._filter = subject_filter
        self._durable = durable
        self._batch = batch
        self._members: list[SharedMember] = []
        # Held while a batch is applied: members join and leave between two batches only.
        self._boundary = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # Every member has been handed the stream up to here (the level ones applied it;
        # those left out have it in their backlog).
        self.position = 0
        self.batches = 0  # shared transactions committed
        self.rolled_back = 0  # batches applied one read model at a time instead
        self.left_behind = 0  # times a member's batch was not ready in time (`Offer`)
        self.gaps = 0
        self.rearms = 0
        self._chunk = 16  # events per transaction; sized by the last one (as a runner's)
        # The next batch's first events, prepared ahead by the members while the batch
        # before commits (`ProjectionRunner.speculate`): how many, and decoded once.
        self._pull: LivePull | None = None
        self._ahead = 0
        self._decoded: dict[int, StoredEvent] = {}
        self.speculated = 0  # batches whose beginning was prepared ahead
        self._ever: dict[str, SharedMember] = {}  # every member so far, by read model
        # Seconds in the shared transactions: the writer turn held, and each read model's
        # part of it (logged now and then: which one the others wait for).
        self.spent: dict[str, float] = {}
        self.held = 0.0
        self._said_at = time.monotonic()
        self._contended_at = float("-inf")

    @property
    def members(self) -> list[ProjectionRunner]:
        return [m.runner for m in self._members]

    async def join(self, member: SharedMember) -> bool:
        """Take `member` in from the next batch if it is level (its checkpoint at or past the
        shared position); the first member starts the delivery at its checkpoint."""
        async with self._boundary:
            self._ever[member.runner.projection.key] = member
            position = member.runner.position(self._context.stream)
            if self._task is None or self._task.done():
                self.position = position
                member.backlog = None
                self._members = [member]
                self._task = asyncio.create_task(self._run(), name=f"shared-{self._context.stream}")
                return True
            if position < self.position:
                return False  # behind: it catches up alone a while longer
            assert member not in self._members
            member.backlog = None
            self._members.append(member)
            return True

    async def leave(self, member: SharedMember) -> None:
        """Out after the batch under way (if any); the last one out ends the delivery."""
        async with self._boundary:
            if member in self._members:
                self._members.remove(member)
            task = None
            if not self._members:
                task, self._task = self._task, None
                if self.batches:
                    log.info("%s", self.account())
        await cancel_and_wait(task)

    def drop(self, member: SharedMember) -> None:
        """`member` failed applying alone what it was left out of: out of the batches."""
        if member in self._members:
            self._members.remove(member)

    async def _run(self) -> None:
        # As `CatchUpSubscriber._live`: every arm recreates the consumer right after the
        # shared position; a gap, a broker restart, an error re-arm from there.
        while self._members:
            pull = LivePull(
                self._nc,
                self._context,
                self._durable,
                self._filter,
                self._batch,
                lambda: self.position,
            )
            self._pull = pull
            self._decoded.clear()
            try:
                await pull.arm()
                while self._members:
                    msgs = await pull.next_batch()
                    kept, gap = await pull.in_order(msgs)
                    if kept:
                        # Read, decoded and judged once for every member.
                        events = self._read(kept)
                        async with self._boundary:
                            await self._apply(events)
                        await kept[-1].ack()  # cumulative (`AckPolicy.ALL`)
                    elif msgs and gap is None:
                        await msgs[-1].ack()
                    if gap is not None:
                        self.gaps += 1
                        raise gap
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.rearms += 1
                log.info("shared delivery %s re-arming after %r", self._durable, exc)
                await asyncio.sleep(0.2)
            finally:
                self._pull = None
                await pull.close()

    def _read(self, msgs: list[Msg]) -> list[StoredEvent]:
        """`msgs` as stored events (those decoded ahead, `_upcoming`, taken as they were)."""
        decoded, self._decoded = self._decoded, {}
        if not decoded:
            return read_batch(self._nc, self._context, msgs, stream_sequence)
        events = []
        for msg in msgs:
            event = decoded.get(stream_sequence(msg))
            if event is None:
                event = read_batch(self._nc, self._context, [msg], stream_sequence)[0]
            events.append(event)
        return events

    def _upcoming(self, events: list[StoredEvent], end: int) -> list[StoredEvent]:
        """What most likely comes in the next transaction after `events[:end]`: the rest of
        this batch, else what waits in the live pull's buffer (decoded now, once) -- only
        the part that continues right after the batch, without a gap (review20f: a
        duplicate's verdict depends on which copy is judged first, so events are first
        judged in stream order; a delivery lost on the way comes again after the gap is
        found, and a copy behind it judged ahead of it was taken for the original)."""
        if end < len(events):
            return events[end : end + self._chunk]
        if self._pull is None:
            return []
        expected = events[-1].seq + 1
        msgs = []
        for msg in self._pull.peek(self._chunk):
            seq = stream_sequence(msg)
            if seq < expected:  # a redelivery of what was applied
                continue
            if seq > expected:  # a gap (the stream holds only the filter's subjects)
                break
            msgs.append(msg)
            expected += 1
        if not msgs:
            return []
        upcoming = read_batch(self._nc, self._context, msgs, stream_sequence)
        self._decoded = {e.seq: e for e in upcoming}
        return upcoming

    async def _apply(self, events: list[StoredEvent]) -> None:
        received = time.time()
        done = 0
        while done < len(events) and self._members:
            # At least what the members prepared ahead (the chunk's size may have shrunk).
            size, self._ahead = max(self._chunk, self._ahead), 0
            chunk = events[done : done + size]
            stages = {**(delivery.get() or {}), "received": received}
            level = []
            for member in list(self._members):
                if member.backlog is None:
                    level.append(member)
                else:  # behind: its own thread applies it after what it has
                    member.backlog.append((chunk, dict(stages)))
                    if sum(len(c) for c, _ in member.backlog) > BACKLOG:
                        self._members.remove(member)
                        member.backlog.clear()
                        member.out = Behind(f"{BACKLOG} events behind the shared delivery")
            if level:
                upcoming = functools.partial(self._upcoming, events, done + len(chunk))
                await self._apply_level(level, chunk, stages, upcoming)
            done += len(chunk)
            self.position = chunk[-1].seq

    async def _apply_level(
        self,
        level: list[SharedMember],
        chunk: list[StoredEvent],
        stages: dict[str, float],
        upcoming: Callable[[], list[StoredEvent]] | None = None,
    ) -> None:
        """`chunk` prepared by each level member in its own thread; those ready in time
        (`_ready_in_time`) applied in one transaction, the others left to apply it alone.
        While that transaction commits, its members prepare the `upcoming` events ahead,
        each in its thread (fresh19: a slow commit no longer delays the next batch's
        preparation; the next one takes that work if it still holds)."""
        from eventstore.projection import apply_together

        stream = self._context.stream
        loop = asyncio.get_running_loop()
        with contextlib.ExitStack() as spans:
            for member in level:  # each read model's span in the mutation's trace
                spans.enter_context(projection_span(member.runner.projection.key, stream, chunk))
            offers = {member: Offer(loop) for member in level}
            jobs = {}
            try:
                for member, offer in offers.items():  # in the try: a failed submission
                    job = in_thread(  # still closes the offers of those submitted
                        member.thread, prepare_offered, member.runner, stream, chunk, stages, offer
                    )
                    member.runner.track(job)  # its stop waits for it
                    jobs[member] = job
                await _ready_in_time(list(offers.values()))
            finally:
                # Closed in one step with the commit's start (no await between): a member
                # not taken applies its batch alone in its thread; none is left holding its
                # batch lock for a transaction that never comes.
                taken = [(m, a) for m, o in offers.items() if (a := o.close()) is not None]
                applying = None
                if taken:
                    applying = asyncio.ensure_future(
                        asyncio.to_thread(
                            apply_together, [(m.runner, a) for m, a in taken], stream, chunk, stages
                        )
                    )
                    for member, _ in taken:
                        member.runner.track(applying)
            for member in level:
                if member not in dict(taken):
                    self.left_behind += 1
                    member.fall_behind(jobs[member], chunk, stages)
            if applying is None:
                return
            self._speculate([m for m, _ in taken], chunk, upcoming)
            # A member's stop cancels its subscriber, not this thread.
            together = await asyncio.shield(applying)
        self._size(together, len(chunk))
        if together.shared:
            self.batches += 1
            self._count(together)
        else:
            self.rolled_back += 1
        for member, _ in taken:
            position = together.positions.get(member.runner)
            if position is not None:  # its thread's stages, then the shared transaction's
                announced = {**stages, **offers[member].stages}
                await member.runner.committed(stream, position, announced)
        for runner, exc in together.failed:
            member = next(m for m, _ in taken if m.runner is runner)
            if member in self._members:
                self._members.remove(member)
            member.eject(exc)

    def _speculate(
        self,
        members: list[SharedMember],
        chunk: list[StoredEvent],
        upcoming: Callable[[], list[StoredEvent]] | None,
    ) -> None:
        """The next transaction's events prepared ahead by `members` (in `chunk`'s
        transaction, committing now), each in its own thread, queued before its next batch."""
        # The others fold in the commit; a runner switched off prepares in its turn.
        members = [m for m in members if m.runner.prepares and m.runner.prepares_ahead]
        if upcoming is None or not members:
            return
        ahead = upcoming()
        if not ahead:
            return
        self._ahead = len(ahead)
        self.speculated += 1
        stream, after = self._context.stream, chunk[-1].seq
        for member in members:
            job = in_thread(member.thread, _speculate_quietly, member.runner, stream, ahead, after)
            member.runner.track(job)

    def _count(self, together: Together) -> None:
        self.held += together.held
        for key, seconds in together.spent.items():
            self.spent[key] = self.spent.get(key, 0.0) + seconds
        if time.monotonic() - self._said_at >= SAY_EVERY:
            self._said_at = time.monotonic()
            log.info("%s", self.account())

    def account(self) -> str:
        """Where the shared transactions' writer turn went so far, per read model."""
        parts = ", ".join(
            f"{key} {seconds:.2f}s ({seconds / max(self.held, 1e-9):.0%})"
            for key, seconds in sorted(self.spent.items(), key=lambda kv: -kv[1])
        )
        ahead = ", ".join(
            f"{m.runner.projection.key} {m.runner.speculations_used}/"
            f"{m.runner.speculations_dropped}"
            for m in self._ever.values()
        )
        return (
            f"shared {self._context.stream} delivery: {self.batches} transactions,"
            f" {self.rolled_back} rolled back, {self.left_behind} read model batches left out"
            f" (applied alone), writer turn held {self.held:.2f}s; applies: {parts};"
            f" {self.speculated} batches prepared ahead (taken/dropped: {ahead or 'none'})"
        )

    def _size(self, together: Together, count: int) -> None:
        """The next transaction about `FAIR_TURN` long while other owners want the writer,
        `LONE_TURN` otherwise (as `ProjectionRunner._apply_taking_turns`)."""
        from eventstore.projection import CONTENTION_MEMORY, FAIR_TURN, LONE_TURN

        if not together.shared:
            return
        now = time.monotonic()
        if together.others_waited:
            self._contended_at = now
        target = FAIR_TURN if now - self._contended_at < CONTENTION_MEMORY else LONE_TURN
        per_event = max(together.held, 1e-6) / count
        self._chunk = max(1, min(self._batch, int(target / per_event)))


class SharedMember(CatchUpSubscriber):
    """A read model's subscriber to one stream that, once level, hands its delivery to the
    stream's `SharedDelivery` (and takes it back if a batch fails for it there)."""

    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        durable: str,
        runner: ProjectionRunner,
        shared: SharedDelivery,
        **kwargs: object,
    ) -> None:
        super().__init__(nc, context, durable, **kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.shared = shared
        self.joins = 0
        self.ejections = 0
        self.fell_behind = 0  # batches not ready in time for the shared transaction
        self._ejected = asyncio.Event()
        # Whether it may join before applying a batch alone (not right after a failure).
        self._proven = True
        # In the shared delivery and left out of a batch (`Offer`): what came since, to be
        # applied alone, in order, by `thread`; None while level (in each shared batch).
        self.backlog: list[tuple[list[StoredEvent], dict[str, float]]] | None = None
        self.out: Exception | None = None  # too far behind: out once its thread is done
        # Its batches are prepared (and, left out, applied) one after another here: a held
        # read model holds its own thread, never the others' nor the loop's pool.
        self.thread = ThreadPoolExecutor(1, thread_name_prefix=f"shared-{runner.projection.key}")
        self._alone_task: asyncio.Task[None] | None = None

    def fall_behind(
        self, job: asyncio.Future[int | None], chunk: list[StoredEvent], stages: dict[str, float]
    ) -> None:
        """Its `chunk` was not ready for the shared transaction: its thread (`job`) applies it
        alone; what comes meanwhile waits in `backlog`; level again once that is empty."""
        self.fell_behind += 1
        self.backlog = []
        self._alone_task = asyncio.create_task(self._level_alone(job, chunk, stages))

    async def _level_alone(
        self, job: asyncio.Future[int | None], chunk: list[StoredEvent], stages: dict[str, float]
    ) -> None:
        stream = self._context.stream
        try:
            position = await asyncio.shield(job)
            if position is None:  # cannot be: not taken, so applied alone
                position = chunk[-1].seq
            await self.runner.committed(stream, position, dict(stages))
            while self.backlog:
                chunk, stages = self.backlog.pop(0)
                applying = in_thread(
                    self.thread, self.runner._apply_taking_turns, stream, chunk, False, stages
                )
                self.runner.track(applying)
                position = await asyncio.shield(applying)
                await self.runner.committed(stream, position, dict(stages))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.shared.drop(self)
            self.out = exc
        self.backlog = None  # level (the loop appends only to a list, never between)
        if self.out is not None:
            out, self.out = self.out, None
            self.eject(out)

    def eject(self, exc: Exception) -> None:
        self.ejections += 1
        self._proven = False
        log.warning(
            "read model %s out of the shared %s delivery, alone from #%s: %s: %s",
            self.runner.projection.key,
            self._context.stream,
            self._owner_position(),
            type(exc).__name__,
            exc,
        )
        self._ejected.set()

    async def stop(self) -> None:
        await super().stop()
        await self.shared.leave(self)
        await cancel_and_wait(self._alone_task)  # its runner's stop waits for the thread
        self._alone_task = None
        self.backlog = None
        self.thread.shutdown(wait=False)

    async def _live(self) -> None:
        while not self._stopping.is_set():
            joined = self._proven and await self._join()
            if joined or await self._alone():
                await self._ejected.wait()  # the shared delivery feeds it until then
                self._ejected.clear()

    async def _join(self) -> bool:
        joined = await self.shared.join(self)
        if joined:
            self.joins += 1
        return joined

    async def _alone(self) -> bool:
        """One arm of `CatchUpSubscriber._live`, asking to join after each batch applied;
        True once joined."""
        pull = LivePull(
            self._nc, self._context, self._durable, self._filter, self._batch, self._owner_position
        )
        try:
            await pull.arm()
            while not self._stopping.is_set():
                msgs = await pull.next_batch()
                kept, gap = await pull.in_order(msgs)
                if kept:
                    await self._handle_live(kept)
                    self._proven = True
                    if await self._join():
                        return True
                elif msgs and gap is None:
                    await msgs[-1].ack()
                if gap is not None:
                    self.gaps += 1
                    raise gap
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker restart, a gap, a failing batch: re-arm
            await self._rearming(exc)
        finally:
            await pull.close()
        return False


_SHARED: weakref.WeakKeyDictionary[Engine, dict[tuple[int, str, str], SharedDelivery]] = (
    weakref.WeakKeyDictionary()
)


def shared_delivery(
    nc: NATS, engine: Engine, context: BoundedContext, instance: str, batch: int
) -> SharedDelivery:
    """The one shared delivery of `context`'s stream into `engine`'s read models."""
    subject_filter = context.event_subjects
    deliveries = _SHARED.setdefault(engine, {})
    key = (id(nc), context.stream, subject_filter)
    found = deliveries.get(key)
    if found is None:
        durable = f"proj_shared_{context.stream}_{instance}"
        found = deliveries[key] = SharedDelivery(nc, context, subject_filter, durable, batch)
    return found
