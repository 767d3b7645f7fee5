"""Projections: SQL read models rebuilt from the event streams.

A runner feeds one projection from one ordered subscription per stream, taken from an
`EventSource`: durable JetStream consumers (`eventstore.sources.JetStreamSource`, or just a NATS
connection), or the `InMemoryEventStore` for tests without a broker. Each batch
is applied in one SQL transaction together with the stream's checkpoint, so every event
takes effect exactly once across crashes and redeliveries (a redelivered sequence at or
below the checkpoint is skipped). An event whose `apply` raises is parked (recorded with
its error, in the same transaction) and the rest flow on: never silently dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from nats.aio.client import Client as NATS
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Executable,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from contracts_schema.base import DomainEvent
from contracts_schema.subjects import BoundedContext
from eventstore.observability import projection_span
from eventstore.ports import EventSource, Subscription
from eventstore.projection_leader import Leadership, lock_schema
from eventstore.projection_news import SILENT_BEATS, Announcer, News, subject
from eventstore.rebuild_indexes import ensure as ensure_indexes
from eventstore.settings import ProjectionSettings
from eventstore.signing import BadSetting
from eventstore.sources import JetStreamSource
from eventstore.sql import WRITER
from eventstore.store import StoredEvent
from eventstore.subscription import delivery
from eventstore.tasks import cancel_and_wait
from eventstore.trust import Duplicates, RefusedEvent, duplicates_of

if TYPE_CHECKING:
    from eventstore.bulk import Statement
    from eventstore.projection_status import ProjectionStatus
    from eventstore.timeline import Recorded
    from eventstore.versioned import LocalHistory

log = logging.getLogger(__name__)

bookkeeping = MetaData()

checkpoints = Table(
    "projection_checkpoints",
    bookkeeping,
    Column("projection", String(120), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

parked = Table(
    "projection_parked",
    bookkeeping,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("projection", String(120), nullable=False, index=True),
    Column("stream", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("aggregate", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)


class Projection(ABC):
    name: ClassVar[str]
    version: ClassVar[int] = 1
    contexts: ClassVar[tuple[BoundedContext, ...]]

    @property
    def key(self) -> str:
        """Name and version: a new version builds beside the old one."""
        return f"{self.name}_v{self.version}"

    # Envelope-level read models (an event log, an audit trail) keep every event as it is.
    reads_every_event: ClassVar[bool] = False
    # Whether readers wait for this read model right after a write (read-your-writes). On a
    # shared SQLite writer the commits of those that readers wait for go first (`WriterTurn`),
    # and one nobody waits for (the audit's history) writes in the gaps, in short turns.
    awaited: ClassVar[bool] = True
    # Event types of its contexts a read model gives no meaning, on purpose.
    ignored: ClassVar[frozenset[str]] = frozenset()
    # The CPU a rebuild spends applying this read model's events, relative to the others
    # (measured per read model: `bench.rebuild_groups --per-model`). A rebuild on several
    # processes splits the read models into groups of about equal cost
    # (`eventstore.split_rebuild.partition`).
    rebuild_cost: ClassVar[int] = 1

    def handled(self) -> frozenset[str]:
        """Event types this read model gives a meaning (a fold or a typed handler reads them)."""
        return frozenset()

    def undeclared(self) -> set[str]:
        """Event types of this projection's contexts it neither handles nor ignores on purpose.

        A projection that interprets events must say, per event type of the catalogue, which
        it handles and which it ignores; one that keeps envelopes as they are declares
        `reads_every_event`. A test holds every read model's answer empty.
        """
        from contracts_schema import catalogue  # read when called: the catalogue is the truth

        if self.reads_every_event:
            return set()
        names = {c.name for c in self.contexts}
        types = {m.event_type for m in catalogue.EVENT_MODELS if m.context in names}
        return types - self.handled() - self.ignored

    @abstractmethod
    def define(self, metadata: MetaData) -> None:
        """Declare the projection's tables."""

    @abstractmethod
    def apply(self, conn: Connection, event: StoredEvent) -> None:
        """Apply one event inside the runner's transaction."""


Failure = tuple[StoredEvent, Exception]


class Prepared(Protocol):
    """A batch's row changes computed ahead (`BatchProjection.prepare`)."""

    def write(self, conn: Connection) -> list[Failure]:
        """Write them in the runner's transaction; the events that could not be applied."""
        ...


class Ahead(NamedTuple):
    """A batch's work done before the writer turn (`ProjectionRunner._before_turn`)."""

    expected: int  # the checkpoint it was prepared after
    refused: dict[int, str]  # sequence -> why it may not be taken as fact
    prepared: Prepared | None


class Speculation(NamedTuple):
    """The next batch's work done while the batch before it commits (`ProjectionRunner.
    speculate`): taken by the next `_before_turn` if it starts with exactly these events, the
    batch before committed at `ahead.expected` and the read model's memory not forgotten
    since (`generation`); otherwise dropped and the memory forgotten (it folded them)."""

    generation: int
    stream: str  # a runner reads several streams: their sequences overlap (review19)
    seqs: list[int]
    ahead: Ahead
    at: float  # wall clock when it was prepared


class _Both:
    """Two batches' row changes written one after the other (a speculated first part and
    the rest of the batch prepared on top of it)."""

    def __init__(self, first: Prepared, rest: Prepared) -> None:
        self._first = first
        self._rest = rest

    def write(self, conn: Connection) -> list[Failure]:
        return self._first.write(conn) + self._rest.write(conn)

    @property
    def failures(self) -> list[Failure]:
        return _fold_failures(self._first) + _fold_failures(self._rest)


def _fold_failures(prepared: Prepared | None) -> list[Failure]:
    """The events a batch's prepared work parks by its fold step's verdict, when it says
    (`versioned._Prepared.failures`)."""
    return list(getattr(prepared, "failures", None) or ())


def event_types(*models: type[DomainEvent]) -> frozenset[str]:
    """The names of typed events, for a read model's `handled` and `ignored` declarations."""
    return frozenset(m.event_type for m in models)


class UndeclaredEvent(LookupError):
    def __init__(self, projection: Projection, event_type: str) -> None:
        super().__init__(
            f"read model {projection.key} does not declare {event_type}: handle it or list it"
            " as ignored"
        )


class BatchProjection(Projection):
    """A projection applied a whole batch at a time (bulk statements).

    `apply_batch` returns the events it could not apply, with why; the runner parks them in
    the same transaction. A database error raises and fails the batch. In-memory state it
    keeps between batches is dropped by `reset` when a transaction did not commit.
    """

    @abstractmethod
    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> list[Failure]: ...

    def prepare(self, dialect: Dialect, events: list[StoredEvent]) -> Prepared | None:
        """Optionally, the batch's work that needs no database (decoding, folds, rows), done
        before the runner's transaction, so a shared SQLite writer is held only to write.
        `Prepared.write` in the transaction then stands for `apply_batch` on the same
        events. None: `apply_batch` in the transaction does it all."""
        return None

    def apply(self, conn: Connection, event: StoredEvent) -> None:
        failures = self.apply_batch(conn, [event])
        if failures:
            raise failures[0][1]

    def reset(self) -> None:
        """Forget in-memory state (the transaction that used it did not commit)."""

    # Rows a read model derives from its own rows after each batch (enrolment's programme
    # spans and running totals, recomputed per touched key): a rebuild from nothing into a
    # database nobody reads until it has ended may leave them out of every batch and derive
    # them once at its end, from the finished rows (`derived`). Set only by such a rebuild
    # (`eventstore.split_rebuild`), for a read model that `defers_derived`.
    defers_derived: ClassVar[bool] = False
    deferring: bool = False

    def derived(self, dialect: Dialect) -> list[Statement]:
        """The statements that derive, from this read model's rows, what its batches left
        out while `deferring`: all of it, into empty tables. Run in one transaction after
        the last batch, none running beside it; the rows are then those the batches would
        have kept."""
        return []


def upsert(conn: Connection, table: Table, values: dict[str, object], keys: list[str]) -> None:
    """Insert or update by primary key, on SQLite and PostgreSQL alike.

    The statement depends only on the table, the columns and the keys, so it is built once
    and the values travel as bound parameters: building `insert().values(...)` afresh for
    every event (and its cache key) cost more than the database's own work in a rebuild.
    """
    statement = _upsert_statement(conn.dialect.name, table, tuple(values), tuple(keys))
    conn.execute(statement, values)


@functools.lru_cache(maxsize=1024)
def _upsert_statement(
    dialect_name: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Executable:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates = {c: statement.excluded[c] for c in columns if c not in keys}
    result: Executable = (
        statement.on_conflict_do_update(index_elements=list(keys), set_=updates)
        if updates
        else statement.on_conflict_do_nothing(index_elements=list(keys))
    )
    return result


class WriterTurn:
    """The SQLite writer of one process's read models, taken in turns, in order.

    A plain lock lets the runner that just released it take it again before a waiting one
    wakes: a runner catching up on thousands of events then starved the live ones. Here the
    turns go in the order they were asked for, live read models first: a turn asked for
    while catching up, or by a read model nobody waits for (`Projection.awaited` False), as
    `for_owner(..., catching_up=True)`, waits until no live one does. With
    `ProjectionRunner` sizing its transactions short while another waits, a live read model's
    next commit waits at most for one short transaction.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._issued = 0
        self._holder: int | None = None
        self._waiting: dict[int, tuple[str | None, bool]] = {}  # ticket -> (owner, catching up)
        self._held = threading.local()
        # The last turns given back: (owner, released at, wall clock). For whoever measures
        # where a wait for the writer went (`ProjectionRunner`'s announced stages).
        self.recent: collections.deque[tuple[str | None, float]] = collections.deque(maxlen=16)

    def for_owner(self, owner: str | None, *, catching_up: bool = False) -> None:
        """Name who takes this thread's next turns (a read model: its streams are one owner)
        and whether it is catching up on a backlog (then live read models go first)."""
        self._held.owner = owner
        self._held.catching_up = catching_up

    def _next(self) -> int:
        live = [t for t, (_, behind) in self._waiting.items() if not behind]
        return min(live) if live else min(self._waiting)

    def __enter__(self) -> WriterTurn:
        owner = getattr(self._held, "owner", None)
        behind = getattr(self._held, "catching_up", False)
        with self._cond:
            ticket = self._issued
            self._issued += 1
            self._waiting[ticket] = (owner, behind)
            self._cond.wait_for(lambda: self._holder is None and self._next() == ticket)
            del self._waiting[ticket]
            self._holder = ticket
        self._held.since = time.perf_counter()
        self._held.mine = owner
        return self

    def __exit__(self, *exc: object) -> None:
        held = time.perf_counter() - self._held.since
        with self._cond:
            mine = self._held.mine
            others = any(o is None or o != mine for o, _ in self._waiting.values())
            self._held.last = (held, others)  # (seconds, another owner waits)
            self.recent.append((mine, time.time()))
            self._holder = None
            self._cond.notify_all()

    def waiting(self) -> int:
        """How many turns are asked for and not yet given."""
        with self._cond:
            return len(self._waiting)

    def last_held(self) -> tuple[float, bool]:
        """How long this thread last held the turn, and whether another owner waited for it."""
        last: tuple[float, bool] = getattr(self._held, "last", (0.0, False))
        return last


_WRITER_TURNS: weakref.WeakKeyDictionary[Engine, WriterTurn] = weakref.WeakKeyDictionary()
_WRITER_TURNS_GUARD = threading.Lock()


def writer_turn(engine: Engine) -> WriterTurn | None:
    """On SQLite, the turn runners of one process sharing an engine take to write."""
    if engine.dialect.name != "sqlite":
        return None
    with _WRITER_TURNS_GUARD:
        turn = _WRITER_TURNS.get(engine)
        if turn is None:
            turn = _WRITER_TURNS[engine] = WriterTurn()
    return turn


def _writer_turn(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """On SQLite, runners of one process sharing an engine take turns (`WriterTurn`).

    SQLite has one writer at a time; a second `BEGIN IMMEDIATE` waits in SQLite's busy
    handler, which sleeps in growing steps (up to 100 ms) and so leaves the file idle after
    the holder commits: in a rebuild the five runners spent a large share of their time
    there. A process-local turn hands over at once. Other processes still meet the
    busy timeout; PostgreSQL needs no turn (row locks).
    """
    turn = writer_turn(engine)
    return turn if turn is not None else contextlib.nullcontext()


def _behind(engine: Engine, stages: dict[str, float]) -> None:
    """Name in `stages` the turns given back while this one waited for the writer (each
    owner's last release, "behind <owner>"): where a slow commit's wait went."""
    turn = writer_turn(engine)
    if turn is None:
        return
    asked = stages.get("prepared", stages.get("thread", 0.0))
    for owner, released in list(turn.recent):
        if released >= asked:
            stages[f"behind {owner}"] = released


# How long a runner's transactions hold the SQLite writer turn: about FAIR_TURN while other
# runners also want it (a catching-up read model then applies its backlog in short turns and
# the live ones wait at most one of them), LONE_TURN when it has been alone for a while.
FAIR_TURN = 0.05  # seconds
LONE_TURN = 0.5
# A read model nobody waits for (`Projection.awaited` False) writes in shorter turns while
# others want the writer: an awaited commit that arrives just after it took the turn waits
# for at most about this long.
YIELDING_TURN = 0.01
CONTENTION_MEMORY = 5.0  # seconds since another runner last waited
FIRST_CHUNK = 16  # events in a runner's first transaction, before it knows their cost
# A runner starting from nothing asks the streams' heads (to defer its read indexes) and
# waits this long for a broker that cannot answer just now before it keeps its indexes.
HEADS_PATIENCE = 15.0  # seconds
HEADS_PAUSE = 0.25
# Whether a shared delivery prepares the next batch while the one before commits
# (`ProjectionRunner.speculate`); off unless set to "1" (a runner then prepares each batch in
# its turn). Off by default since the twentieth round: each of two reviews found wrong-row
# paths in it (review19, review20f: all fixed and tested), and its freshness gain (p99 ~0.9x)
# does not meet the target either way; it stays, tested on, for the freshness pairs (fresh20).
PREPARE_AHEAD_ENV = "GT_PROJECTION_PREPARE_AHEAD"


_SWITCH_VALUES = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


def prepare_ahead_default() -> bool:
    """The switch's value; a value that is neither on nor off is refused by name, not taken
    as on (a mistyped "of" must not silently measure the wrong side)."""
    given = os.environ.get(PREPARE_AHEAD_ENV, "0").strip().lower() or "0"
    if given not in _SWITCH_VALUES:
        raise BadSetting(
            f"{PREPARE_AHEAD_ENV}: must be 1/true/on or 0/false/off (got {given[:80]!r})"
        )
    return _SWITCH_VALUES[given]


@dataclasses.dataclass
class Together:
    """What `apply_together` did with one delivery."""

    positions: dict[ProjectionRunner, int]  # each runner that applied it: its new checkpoint
    failed: list[tuple[ProjectionRunner, Exception]]  # each that could not, alone either
    shared: bool  # True: in one transaction; False: rolled back, then one per read model
    held: float = 0.0  # seconds the writer turn was held (SQLite; the shared transaction)
    others_waited: bool = False  # another owner asked for the writer turn meanwhile
    # Seconds of the shared transaction each read model's apply (and checkpoint) took, by
    # key: which one the writer turn waits for most.
    spent: dict[str, float] = dataclasses.field(default_factory=dict)


def apply_together(
    prepared: Sequence[tuple[ProjectionRunner, Ahead]],
    stream: str,
    events: list[StoredEvent],
    stages: dict[str, float],
) -> Together:
    """One delivery of `stream` applied to every runner (read models of one database, each at
    most at the batch's first position) in ONE transaction: one writer turn, one commit,
    each read model's checkpoint written in it. Each runner comes with its `_before_turn`
    work on `events`, done (in its own thread, `eventstore.shared_delivery`) under its batch
    lock, which its caller handed over: released here, whatever happens. Per-event failures
    are parked inside, as a runner alone does.

    Anything that escapes a read model (the database failing, a defect) rolls the whole
    transaction back and every runner's in-memory state is forgotten: no read model keeps
    a part of it. Then each runner applies the batch alone, in its own transaction as
    without sharing; those that fail again are returned with why (their caller takes them
    out of the shared delivery: they retry alone), the others' positions are returned.
    Call from a worker thread (a versioned read model may load history through the loop)."""
    ordered = sorted(prepared, key=lambda pair: pair[0].projection.key)
    engine = ordered[0][0].engine
    stages["thread"] = time.time()
    turn = writer_turn(engine)
    if turn is not None:
        turn.for_owner(f"together {stream}")
    try:
        try:
            spent: dict[str, float] = {}
            positions = _together(ordered, stream, events, stages, spent)
            together = Together(positions, [], shared=True, spent=spent)
            if turn is not None:
                together.held, together.others_waited = turn.last_held()
            return together
        except Exception as exc:
            keys = ", ".join(r.projection.key for r, _ in ordered)
            log.warning(
                "shared batch of %s #%s-#%s for %s rolled back, applied one read model at a"
                " time: %s: %s",
                stream,
                events[0].seq,
                events[-1].seq,
                keys,
                type(exc).__name__,
                exc,
            )
        alone = Together({}, [], shared=False)
        for runner, _ in ordered:
            if turn is not None:
                turn.for_owner(runner.projection.key)
            try:
                alone.positions[runner] = runner._apply_batch_or_reset(stream, events, dict(stages))
            except Exception as exc:
                alone.failed.append((runner, exc))
        return alone
    finally:
        if turn is not None:
            turn.for_owner(None)


def _together(
    ordered: list[tuple[ProjectionRunner, Ahead]],
    stream: str,
    events: list[StoredEvent],
    stages: dict[str, float],
    spent: dict[str, float],
) -> dict[ProjectionRunner, int]:
    engine = ordered[0][0].engine
    try:
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(_writer_turn(engine))
                stages["writer"] = time.time()
                _behind(engine, stages)
                conn = stack.enter_context(engine.connect().execution_options(**WRITER))
                stack.enter_context(conn.begin())
                stages["turn"] = time.time()
                positions = {}
                for runner, ahead in ordered:
                    began = time.perf_counter()
                    positions[runner] = runner._in_transaction(conn, stream, events, ahead)
                    spent[runner.projection.key] = time.perf_counter() - began
        except BaseException:
            for runner, _ in ordered:  # their memory ran ahead of a transaction that failed
                runner._rolled_back()
            raise
        for runner, position in positions.items():
            runner._committed[stream] = position
            runner._refusing_committed(stream, position)
    finally:
        for runner, _ in ordered:  # each lock taken by the thread that prepared its batch
            runner._one_batch.release()
    stages["committed"] = time.time()
    return positions


def _joined(first: Ahead, rest: Ahead, any_rest: bool) -> Ahead | None:
    """A speculated beginning and the rest of its batch as one batch's work; None if they
    cannot be written as two parts (one prepared, the other left to the transaction)."""
    refused = {**first.refused, **rest.refused}
    if not any_rest:
        return first
    if first.prepared is None and rest.prepared is None:
        return Ahead(first.expected, refused, None)
    if first.prepared is None or rest.prepared is None:
        return None
    return Ahead(first.expected, refused, _Both(first.prepared, rest.prepared))


class RunnerFactory(Protocol):
    """Makes a `ProjectionRunner`: `bootstrap.parts.projection_runner`, handed to whoever runs a
    projection (the gateway's read side, audit's rebuild) by the composition root."""

    def __call__(
        self,
        source: NATS | EventSource,
        engine: Engine,
        projection: Projection,
        *,
        batch: int = 500,
        instance: str | None = None,
        follow: bool = False,
    ) -> ProjectionRunner: ...


class ProjectionRunner:
    def __init__(
        self,
        source: NATS | EventSource,
        engine: Engine,
        projection: Projection,
        *,
        batch: int = 500,
        instance: str | None = None,
        follow: bool = False,
    ) -> None:
        """`follow`: only read (the gateway beside a projector process): never apply, never
        lead; learn the applying runner's positions from its announcements."""
        self._source = JetStreamSource(source) if isinstance(source, NATS) else source
        # Runners writing to different databases (e.g. two replicas, each with its own
        # SQLite file) must not share, and delete at start, each other's consumer.
        self.instance = (
            instance
            or hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[
                :8
            ]
        )
        self._engine = engine
        self.projection = projection
        self._batch = batch
        self.metadata = MetaData()
        projection.define(self.metadata)
        self._subscribers: list[Subscription] = []
        self.positions: dict[str, int] = {}
        self._advanced = asyncio.Condition()
        self.parked_count = 0
        self.live = False  # serves reads; a new version turns live once it has caught up
        self.live_version: int | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._indexer: asyncio.Task[None] | None = None  # a rebuild's deferred read indexes
        self.deferred_indexes = 0  # read indexes this runner's rebuild built at its end
        # False: a rebuild from nothing leaves the read indexes it deferred unbuilt (a split
        # rebuild's group whose rows are copied into another database, which indexes them:
        # `eventstore.split_rebuild`).
        self.build_read_indexes = True
        self._leadership = Leadership(engine, projection.key)
        self._standby: asyncio.Task[None] | None = None
        self.leading = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.follow = follow
        # Positions travel on NATS core between processes (eventstore.projection_news).
        self._news = (
            Announcer(self._source.nc, subject(engine, projection.name, projection.key))
            if isinstance(self._source, JetStreamSource)
            else None
        )
        self._listening: Any = None  # the news subscription (followers and standbys)
        self._heartbeat: asyncio.Task[None] | None = None
        # Seconds between a leader's idle announcements; a follower's silence is SILENT_BEATS
        # of them (GT_PROJECTION_HEARTBEAT_SECONDS, default projection_news.HEARTBEAT).
        self.heartbeat = ProjectionSettings().projection_heartbeat_seconds
        self._started_at = 0.0
        self.heard_at: float | None = None  # loop time of the last news heard (followers)
        self.heard_wall: float | None = None  # the same instant, wall clock (`News.stages`)
        self.failure: str | None = None  # set by an owner that saw the projector fail
        self.checkpoint_looks = 0  # waits that ended on the database, not an announcement
        self._chunk = min(batch, FIRST_CHUNK)  # events per transaction (see FAIR_TURN)
        self._contended_at = float("-inf")
        self._applying: set[asyncio.Future[Any]] = set()  # transactions under way
        # One batch at a time per read model, from preparing to commit (its streams'
        # handlers run in threads of their own; its in-memory state is one).
        self._one_batch = threading.Lock()
        # The read model's in-memory state (a versioned one's timelines): folded by one
        # thread at a time -- a batch's preparation, or the next one's speculated while the
        # batch before commits (`speculate`), or a forgetting. Each forgetting is a
        # generation: a speculation from an earlier one is stale.
        self._memory = threading.RLock()
        self._generation = 0
        # The generation the last batch was prepared in (`_before_turn`): the memory holds
        # that batch folded only while nothing forgot it since (review19: a park in its
        # transaction forgets it, and memory read again then is read outside that
        # transaction, without the batch's rows).
        self._prepared_in = -1
        self._speculated: Speculation | None = None
        self.prepares_ahead = prepare_ahead_default()  # off: `speculate` is never called
        self.speculations_used = 0
        self.speculations_dropped = 0
        self._committed: dict[str, int] = {}  # per stream: this runner's last commit
        # Per stream, the sequences refused in batches prepared (or prepared ahead) whose
        # parks may not be committed yet: a cold timeline's history leaves them out
        # (`_load_earlier`; fresh20, review19's third path). Dropped once committed.
        self._refusing: dict[str, set[int]] = {}
        self._refusing_guard = threading.Lock()
        # Per stream, what the batch under way parks for its fold step or for the database,
        # not committed yet (pipe21; review20f's pre-existing path): within ONE batch a cold
        # timeline's history read on another connection does not see those parks, so the
        # aggregate's later events in the same batch folded the parked one in -- the batch
        # boundaries decided whether a park took effect in its aggregate's later rows. A
        # cold history leaves them out too. Their verdicts can change (a history that could
        # not be loaded may load next time; a batch redone event by event decides again),
        # so unlike refusals they are kept only as long as the work that found them:
        # `_failing`, found while folding (a history that failed to load, a preparation's
        # fold failures), goes with the memory that folded them (`_forget`); `_parking`,
        # decided in the open transaction (parked, or refused by the database in a batch
        # redone event by event), goes when that transaction rolls back (`_rolled_back`).
        # Both go once committed (then found among the parks).
        self._failing: dict[str, set[int]] = {}
        self._parking: dict[str, set[int]] = {}
        self._duplicates = Duplicates()  # this runner's own, when none is shared
        # A versioned read model's earlier events from a read model of the same database
        # (set by the wiring: `gateway.projections.event_log_history`); the event store
        # answers what it does not hold. Counted by where they came from.
        self.local_history: LocalHistory | None = None
        self.histories_local = 0
        self.histories_loaded = 0  # from the event store
        self._folds_timelines = False  # a versioned read model's, bound (`bind_history`)
        # False: this read model's live events never come through a stream's shared delivery
        # (`eventstore.shared_delivery`), each stream its own consumer and transactions.
        self.shares_delivery = True

    @property
    def engine(self) -> Engine:
        """The database this runner writes (or, following, reads)."""
        return self._engine

    def consumer_name(self, context: BoundedContext) -> str:
        return f"proj_{self.projection.key}_{context.stream}_{self.instance}"

    def create_tables(self) -> None:
        import eventstore.projection_versions  # noqa: F401  (declares its bookkeeping table)

        # As a writer: on SQLite, DDL beside running projections must wait for the write lock.
        with self._engine.connect().execution_options(**WRITER) as conn, conn.begin():
            lock_schema(conn)
            bookkeeping.create_all(conn)
            self.metadata.create_all(conn)
            ensure_indexes(conn, self.metadata)  # a rebuild stopped before it built them

    def load_positions(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(checkpoints.c.stream, checkpoints.c.seq).where(
                    checkpoints.c.projection == self.projection.key
                )
            ).all()
        return {stream: int(seq) for stream, seq in rows}

    def _load_earlier(
        self,
        context: BoundedContext,
        aggregate_type: str,
        aggregate_id: str,
        before: int,
        version: int,
    ) -> list[Recorded[DomainEvent]]:
        """An aggregate's events stored before `before` (the sequence of its event of
        `version`), as its fold reads them (called from the applying thread).

        From `local_history` when that database holds all of them (no round trip through
        the loop to the broker, whose wildcard read of an aggregate from sequence 1 walks
        the stream's blocks: 40-140 ms of the freshness suite's slowest probes); else from
        the event store."""
        # What was parked never took effect here, whether the fold or the database refused
        # it; refusals of batches whose parks are not committed yet (this batch's own, the
        # batch before committing while this one is prepared ahead) are taken first: once
        # a batch commits they are dropped from there, found among the parks instead.
        pending = self._refusals_pending(context.stream) | self._parks_pending(context.stream)
        try:
            return self._earlier(context, aggregate_type, aggregate_id, before, version, pending)
        except Exception:
            # The fold step parks the event whose history this was (`VersionedProjection.
            # prepare` keeps the exception as its failure): its aggregate's later events in
            # this batch must not fold it in from their own histories.
            self._fold_failed(context.stream, [before])
            raise

    def _earlier(
        self,
        context: BoundedContext,
        aggregate_type: str,
        aggregate_id: str,
        before: int,
        version: int,
        pending: set[int],
    ) -> list[Recorded[DomainEvent]]:
        from eventstore.versioned import decoded

        with self._engine.connect() as conn:
            skipped = pending | set(
                conn.execute(
                    select(parked.c.seq).where(
                        parked.c.projection == self.projection.key,
                        parked.c.stream == context.stream,
                        parked.c.aggregate == f"{aggregate_type}/{aggregate_id}",
                    )
                ).scalars()
            )
            local = (
                self.local_history(conn, context, aggregate_type, aggregate_id, before, version)
                if self.local_history is not None
                else None
            )
        if local is not None:
            self.histories_local += 1
            return [r for seq, r in local if seq not in skipped]
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(
            self._source.load(context, aggregate_type, aggregate_id), self._loop
        )
        history = future.result(timeout=60)
        self.histories_loaded += 1
        # The store answers what is stored on the aggregate's subject: a copy of another
        # aggregate's event stored there (misplaced) was refused and parked under the
        # aggregate its envelope names, so only its envelope tells it apart here.
        return list(
            decoded(
                e
                for e in history.events
                if e.seq < before
                and e.seq not in skipped
                and e.envelope.aggregate_id == aggregate_id
                and e.envelope.aggregate_type == aggregate_type
            )
        )

    def _refusals_pending(self, stream: str) -> set[int]:
        with self._refusing_guard:
            return set(self._refusing.get(stream, ()))

    def _refusing_committed(self, stream: str, position: int) -> None:
        """A batch of `stream` committed up to `position`: its refusals, and what it parked
        for its fold step or the database, are parks now."""
        with self._refusing_guard:
            for pending in (self._refusing, self._failing, self._parking):
                found = pending.get(stream)
                if found:
                    found.difference_update([seq for seq in found if seq <= position])

    def _parks_pending(self, stream: str) -> set[int]:
        """What the batch under way parks for its fold step or the database (pipe21)."""
        with self._refusing_guard:
            return set(self._failing.get(stream, ())) | set(self._parking.get(stream, ()))

    def _fold_failed(self, stream: str, seqs: Sequence[int]) -> None:
        """Found while folding the memory as it is: to be parked if that work is written."""
        if seqs:
            with self._refusing_guard:
                self._failing.setdefault(stream, set()).update(seqs)

    def _parks_decided(self, stream: str, seqs: Sequence[int]) -> None:
        """Parked (or to be) in the open transaction: until it commits or rolls back."""
        if seqs:
            with self._refusing_guard:
                self._parking.setdefault(stream, set()).update(seqs)

    def _rolled_back(self) -> None:
        """The transaction under way did not commit: none of its parks happened, its
        memory is forgotten (its batch is decided again, maybe otherwise)."""
        with self._refusing_guard:
            self._parking.clear()
        self._forget()

    def bind_history(self) -> None:
        """Let a versioned projection load an aggregate's earlier events (after a restart, an
        eviction from its cache, or a batch that did not commit). Call on the running loop."""
        from eventstore.versioned import VersionedProjection

        self._loop = asyncio.get_running_loop()
        if isinstance(self.projection, VersionedProjection):
            self.projection.history = self._load_earlier
            self._folds_timelines = True

    async def start(self) -> None:
        from eventstore.projection_versions import claim_if_first

        self._started_at = asyncio.get_running_loop().time()
        if self.follow:
            await self._start_following()
            return
        self.bind_history()
        await asyncio.to_thread(self.create_tables)
        self.positions = await asyncio.to_thread(self.load_positions)
        p = self.projection
        self.live_version = await asyncio.to_thread(claim_if_first, self._engine, p.name, p.version)
        self.live = self.live_version == p.version
        if not self.live:
            log.info("projection %s rebuilding beside v%s", p.key, self.live_version)
            self._watcher = asyncio.create_task(self._take_over_when_caught_up())
        if await asyncio.to_thread(self._leadership.try_acquire):
            await self._lead()
        else:
            log.info("projection %s: another runner leads; standing by", p.key)
            self._standby = asyncio.create_task(self._stand_by())

    async def _start_following(self) -> None:
        """Read only: the projector creates the tables, applies, and announces its positions."""
        from eventstore.projection_versions import live_version

        self.positions = await asyncio.to_thread(self._stored_positions)
        try:
            found = await asyncio.to_thread(live_version, self._engine, self.projection.name)
        except (OperationalError, ProgrammingError):  # no projector has started yet
            found = None
        self._set_live(found)
        await self._listen()

    def _set_live(self, version: int | None) -> None:
        # None: no version claimed yet; the first one built will be this one.
        self.live_version = version if version is not None else self.projection.version
        self.live = self.live_version == self.projection.version

    def _stored_positions(self) -> dict[str, int]:
        """The checkpoints, or none before a projector created its tables."""
        try:
            return self.load_positions()
        except (OperationalError, ProgrammingError):
            return {}

    async def _listen(self) -> None:
        if self._news is not None and self._listening is None:
            self._listening = await self._news.listen(self._heard)

    async def _heard(self, news: News) -> None:
        self.heard_at = asyncio.get_running_loop().time()
        self.heard_wall = time.time()
        if self.follow:
            self.parked_count = news.parked
            if news.live_version is not None:
                self._set_live(news.live_version)
        await self._advance(news.positions)

    async def wait_heard(self, timeout: float, since: float | None = None) -> bool:
        """Wait until the applying runner has been heard from once (a follower's start), or
        once after the loop time `since` (a restarted projector)."""

        def heard() -> bool:
            return self.heard_at is not None and (since is None or self.heard_at > since)

        try:
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(heard)
        except TimeoutError:
            return False
        return True

    async def _advance(self, positions: Mapping[str, int]) -> None:
        async with self._advanced:
            for stream, seq in positions.items():
                self.positions[stream] = max(self.positions.get(stream, 0), seq)
            self._advanced.notify_all()

    async def _announce(self, stages: dict[str, float] | None = None) -> None:
        if self._news is not None:
            news = News(
                dict(self.positions),
                self.live_version,
                self.parked_count,
                stages or {},
                self._histories(),
            )
            await self._news.announce(news)

    def _histories(self) -> dict[str, int]:
        """The cold timelines folded so far, by where their history came from (a versioned
        read model's only: `News.histories`)."""
        if not self._folds_timelines:
            return {}
        return {"local": self.histories_local, "loaded": self.histories_loaded}

    async def _beat(self) -> None:
        """Say the positions also when idle: a follower that missed news catches up, one that
        hears nothing for long knows this runner is gone."""
        while True:
            await self._announce()
            await asyncio.sleep(self.heartbeat)

    @property
    def problem(self) -> str | None:
        """Why this runner's read model may not be current (None: nothing known wrong)."""
        if self.failure is not None:
            return self.failure
        if not self.follow or self._news is None:
            return None
        now = asyncio.get_running_loop().time()
        last = self.heard_at if self.heard_at is not None else self._started_at
        if now - last > SILENT_BEATS * self.heartbeat:
            return (
                f"no word from the projector of {self.projection.key} for {now - last:.0f}s:"
                " is the projector process running?"
            )
        return None

    async def _stand_by(self) -> None:
        # Follow the leader's announcements (read-your-writes still works here) and take over
        # when it goes; the checkpoints are read too, for a leader that cannot announce.
        await self._listen()
        while True:
            await self._advance(await asyncio.to_thread(self.load_positions))
            if await asyncio.to_thread(self._leadership.try_acquire):
                log.info("projection %s: leader gone, taking over", self.projection.key)
                self.positions = await asyncio.to_thread(self.load_positions)
                await self._lead()
                return
            await asyncio.sleep(0.5)

    async def _lead(self) -> None:
        self.leading = True
        if self._listening is not None:  # a standby taking over speaks now, not listens
            await self._listening.unsubscribe()
            self._listening = None
        if self._news is not None:
            self._heartbeat = asyncio.create_task(self._beat())
        subscribers = [
            # The SQL checkpoint is the truth: the subscriber (re)creates its consumer right
            # after our position whenever it arms (also while the cluster elects a leader:
            # it retries), and hands over only batches that continue it without a gap.
            self._subscriber(context)
            for context in self.projection.contexts
        ]
        indexing = await self._defer_read_indexes(subscribers)
        for subscriber in subscribers:
            subscriber.start()
            self._subscribers.append(subscriber)
        if indexing and self.build_read_indexes:
            self._indexer = asyncio.create_task(self._index_after_catch_up(subscribers))

    def _subscriber(self, context: BoundedContext) -> Subscription:
        handler = self._make_handler(context)
        position = functools.partial(self.position, context.stream)
        if not self._shares_delivery():
            return self._source.subscriber(
                context, self.consumer_name(context), handler, batch=self._batch, position=position
            )
        from eventstore.shared_delivery import SharedMember, shared_delivery

        assert isinstance(self._source, JetStreamSource)
        nc = self._source.nc
        return SharedMember(
            nc,
            context,
            self.consumer_name(context),
            self,
            shared_delivery(nc, self._engine, context, self.instance, self._batch),
            handler=handler,
            head=functools.partial(self._source.last_seq, context),
            position=position,
            batch=self._batch,
        )

    def _shares_delivery(self) -> bool:
        """Whether this read model takes its live events from the stream's one delivery into
        its database, applied with the others' in one transaction (`eventstore.shared_delivery`:
        awaited read models on SQLite, fed by JetStream)."""
        return (
            self.shares_delivery
            and self.projection.awaited
            and isinstance(self._source, JetStreamSource)
            and self._engine.dialect.name == "sqlite"
        )

    def track(self, applying: asyncio.Future[Any]) -> None:
        """A transaction of this read model under way elsewhere (a shared delivery's): `stop`
        waits for it."""
        self._applying.add(applying)
        applying.add_done_callback(self._applying.discard)

    async def committed(self, stream: str, position: int, stages: dict[str, float]) -> None:
        """A shared delivery committed this read model's batch up to `position`: readers
        here and, announced, in other processes may read it now."""
        await self._advance({stream: position})
        await self._announce(stages)

    async def _defer_read_indexes(self, subscribers: list[Subscription]) -> bool:
        """A rebuild from nothing that catches up in bulk writes without its tables' read
        indexes, and builds them when caught up (`eventstore.rebuild_indexes`)."""
        from eventstore.catchup import CATCH_UP_FROM, CatchUpSubscriber
        from eventstore.rebuild_indexes import drop, read_indexes

        if any(self.positions.values()) or not all(
            isinstance(s, CatchUpSubscriber) for s in subscribers
        ):
            return False
        heads = await self._heads_at_start()
        indexes = read_indexes(self.metadata)
        if heads is None or max(heads.values(), default=0) <= CATCH_UP_FROM or not indexes:
            return False
        await asyncio.to_thread(self._ddl, lambda conn: drop(conn, indexes))
        self.deferred_indexes = len(indexes)
        return True

    async def _heads_at_start(self) -> dict[str, int] | None:
        """The streams' heads, waiting out a broker that cannot say just now (a cluster
        electing its stream leaders under load) for up to `HEADS_PATIENCE`; None then: the
        read indexes are kept (a slower catch-up, not a service that dies at start)."""
        from eventstore.errors import is_transient

        deadline = asyncio.get_running_loop().time() + HEADS_PATIENCE
        while True:
            try:
                return await self.stream_heads()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if asyncio.get_running_loop().time() >= deadline:
                    log.info(
                        "heads of %s unknown (%r): read indexes kept", self.projection.key, exc
                    )
                    return None
                await asyncio.sleep(HEADS_PAUSE)

    async def _index_after_catch_up(self, subscribers: list[Subscription]) -> None:
        from eventstore.rebuild_indexes import ensure

        await asyncio.gather(*(s.catch_up_ended.wait() for s in subscribers))  # type: ignore[attr-defined]
        await asyncio.to_thread(self._ddl, lambda conn: ensure(conn, self.metadata))

    async def read_indexes_built(self) -> None:
        """Wait until a rebuild's deferred read indexes exist (at once when none are)."""
        if self._indexer is not None:
            await asyncio.shield(self._indexer)

    def _ddl(self, change: Callable[[Connection], None]) -> None:
        with (
            _writer_turn(self._engine),
            self._engine.connect().execution_options(**WRITER) as conn,
            conn.begin(),
        ):
            change(conn)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            await cancel_and_wait(self._heartbeat)
            self._heartbeat = None
        if self._listening is not None:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await self._listening.unsubscribe()
            self._listening = None
        if self.follow:
            return
        if self._standby is not None:
            self._standby.cancel()
            await asyncio.gather(self._standby, return_exceptions=True)
            self._standby = None
        if self._watcher is not None:
            await cancel_and_wait(self._watcher)
            self._watcher = None
        if self._indexer is not None:  # the next start creates what is missing
            await cancel_and_wait(self._indexer)
            self._indexer = None
        for subscriber in self._subscribers:
            await subscriber.stop()
        self._subscribers.clear()
        # A transaction under way finishes (it may need this loop to load an aggregate's
        # history) before the runner is stopped: none is left to hang the loop's shutdown.
        await asyncio.gather(*self._applying, return_exceptions=True)
        # A stopped runner's read model holds no timelines: a long catch-up may have frozen
        # them (`eventstore.collector.relaxed_for_catch_up`), out of the cyclic collector's
        # reach; forgotten here, reference counting frees them. A next start loads what it
        # needs again.
        self._forget()
        self._committed.clear()
        with self._refusing_guard:
            self._refusing.clear()
            self._parking.clear()
        await asyncio.to_thread(self._leadership.release)
        self.leading = False

    @property
    def delivery_gaps(self) -> int:
        """Batches cut (and consumers recreated) because a delivery went astray."""
        return sum(subscriber.gaps for subscriber in self._subscribers)

    @property
    def caught_up_in_bulk(self) -> int:
        """Events this runner applied from bulk catch-up reads (eventstore.catchup)."""
        return sum(getattr(subscriber, "caught_up", 0) for subscriber in self._subscribers)

    def position(self, stream: str) -> int:
        """The last sequence of `stream` this runner has applied (its checkpoint)."""
        return self.positions.get(stream, 0)

    def _make_handler(self, context: BoundedContext):  # type: ignore[no-untyped-def]
        async def handle(events: list[StoredEvent]) -> None:
            # A span in the trace of the mutation whose events these are (none if untraced).
            with projection_span(self.projection.key, context.stream, events):
                received = time.time()  # wall clock: the stages are compared across processes
                done = 0
                while done < len(events):
                    chunk = events[done : done + self._chunk]
                    behind = done + len(chunk) < len(events)  # more than one turn's worth
                    stages = {**(delivery.get() or {}), "received": received}
                    # A bulk catch-up read hands over more than `batch` events: on SQLite its
                    # transactions may be as long (the turn's time bounds them still); one
                    # transaction per 500 events cost ~10-15% of a direct build's CPU.
                    cap = max(self._batch, len(events))
                    applying = asyncio.ensure_future(
                        asyncio.to_thread(
                            self._apply_taking_turns, context.stream, chunk, behind, stages, cap
                        )
                    )
                    self._applying.add(applying)
                    applying.add_done_callback(self._applying.discard)
                    # A stop cancels the handler, not the thread: `stop` waits for it.
                    last = await asyncio.shield(applying)
                    done += len(chunk)
                    await self._advance({context.stream: last})
                    await self._announce(stages)  # committed: other processes may read it now

        return handle

    def _apply_taking_turns(
        self,
        stream: str,
        events: list[StoredEvent],
        catching_up: bool = False,
        stages: dict[str, float] | None = None,
        cap: int = 0,
    ) -> int:
        """`apply_batch`, then size the next transaction by what the last one cost per event:
        about `FAIR_TURN` long while other runners want the writer turn (recently; a read
        model nobody waits for `YIELDING_TURN`), about `LONE_TURN` otherwise. Sized before
        it starts, a transaction never holds the turn for a whole backlog of a slow read
        model; while catching up, or if nobody waits for it, it waits for the live awaited
        read models' turns (`WriterTurn`)."""
        if stages is not None:
            stages["thread"] = time.time()  # a pool thread runs it
        turn = writer_turn(self._engine)
        yields = catching_up or not self.projection.awaited
        if turn is not None:
            turn.for_owner(self.projection.key, catching_up=yields)
        try:
            last = self._apply_batch_or_reset(stream, events, stages)
        finally:
            if turn is not None:  # this pool thread serves other callers next: not as us
                turn.for_owner(None)
        if turn is None:  # PostgreSQL: no turn to share, whole batches
            self._chunk = self._batch
        else:
            held, others_waited = turn.last_held()
            now = time.monotonic()
            if others_waited:
                self._contended_at = now
            target = LONE_TURN
            if now - self._contended_at < CONTENTION_MEMORY:
                target = FAIR_TURN if self.projection.awaited else YIELDING_TURN
            per_event = max(held, 1e-6) / len(events)
            cap = max(cap, self._batch)  # events per transaction at most
            self._chunk = max(1, min(cap, int(target / per_event)))
        return last

    def apply_batch(self, stream: str, events: list[StoredEvent]) -> int:
        """Apply a batch and move the checkpoint in one transaction; returns the new checkpoint."""
        return self._apply_batch_or_reset(stream, events)

    def _apply_batch_or_reset(
        self, stream: str, events: list[StoredEvent], stages: dict[str, float] | None = None
    ) -> int:
        try:
            position = self._apply_batch(stream, events, stages)
        except BaseException:
            self._rolled_back()  # its memory ran ahead of a transaction that failed
            raise
        if stages is not None:
            stages["committed"] = time.time()
        return position

    def _apply_batch(
        self, stream: str, events: list[StoredEvent], stages: dict[str, float] | None = None
    ) -> int:
        with self._one_batch:
            if stages is not None:
                stages["locked"] = time.time()  # the runner's batch lock (a stop's, a reset's)
            return self._prepare_and_apply(stream, events, stages)

    def _prepare_and_apply(
        self, stream: str, events: list[StoredEvent], stages: dict[str, float] | None
    ) -> int:
        ahead = self._before_turn(stream, events, stages)
        return self._apply_prepared(stream, events, ahead, stages)

    def _apply_prepared(
        self, stream: str, events: list[StoredEvent], ahead: Ahead, stages: dict[str, float] | None
    ) -> int:
        """`events`, prepared (`_before_turn`), applied in a transaction of this read model's
        own; the new checkpoint. The caller holds the batch lock."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(_writer_turn(self._engine))
            if stages is not None:
                stages["writer"] = time.time()  # the process's turn (SQLite)
                _behind(self._engine, stages)
            conn = stack.enter_context(self._engine.connect().execution_options(**WRITER))
            stack.enter_context(conn.begin())
            if stages is not None:
                stages["turn"] = time.time()  # the writer is ours (SQLite: after the others)
            position = self._in_transaction(conn, stream, events, ahead)
        self._committed[stream] = position
        self._refusing_committed(stream, position)
        return position

    def _before_turn(
        self, stream: str, events: list[StoredEvent], stages: dict[str, float] | None = None
    ) -> Ahead:
        """Decoding, folding and building rows need no database: done before the writer turn
        is taken, on the events after the position this runner last committed. In the
        transaction the checkpoint must still be that position; if not (another writer
        moved it), the prepared work is dropped and the batch applied there as before.

        The batch's first events may have been prepared already, while the batch before
        committed (`speculate`): taken if still good, the rest prepared on top of them."""
        with self._memory:
            expected = self._committed.get(stream, self.positions.get(stream, 0))
            spec = self._take_speculation(stream, events, expected)
            rest = events[len(spec.seqs) :] if spec is not None else events
            ahead = self._prepared_after(stream, rest, expected)
            if spec is not None:
                joined = _joined(spec.ahead, ahead, bool(rest))
                if joined is None:  # cannot be written as two parts: prepared whole
                    self._forget()
                    joined = self._prepared_after(stream, events, expected)
                ahead = joined
            # Nothing is prepared ahead on a batch that parks an event by its fold step's
            # verdict (`_parked_by_fold`); otherwise on the memory as it is now.
            self._prepared_in = -1 if _fold_failures(ahead.prepared) else self._generation
        if stages is not None:
            loaded = getattr(self.projection, "history_loaded_at", None)
            if loaded is not None:  # a timeline not in memory: its earlier events loaded
                stages["history loaded"] = loaded
            if spec is not None:
                stages["speculated"] = spec.at
            stages["prepared"] = time.time()
        return ahead

    def _prepared_after(self, stream: str, events: list[StoredEvent], expected: int) -> Ahead:
        refused = self._refused(stream, [e for e in events if e.seq > expected])
        if refused:  # parked in the batch's transaction: until it commits, known here
            with self._refusing_guard:
                self._refusing.setdefault(stream, set()).update(refused)
        prepared = self._prepare([e for e in events if e.seq > expected and e.seq not in refused])
        return Ahead(expected, refused, prepared)

    @property
    def prepares(self) -> bool:
        """Its read model computes a batch's rows before the transaction (`BatchProjection.
        prepare`): only then is there work to do ahead (`speculate`)."""
        projection = self.projection
        return (
            isinstance(projection, BatchProjection)
            and type(projection).prepare is not BatchProjection.prepare
        )

    def speculate(self, stream: str, events: list[StoredEvent], after: int) -> None:
        """`events` (the next batch's first ones) prepared now, as if the batch under way --
        committing at `after` -- had committed: called from the thread that prepares this
        read model's batches, while the batch before commits in another. Its batch lock is
        not taken (that batch holds it); the memory is. The next `_before_turn` takes the
        work if it still holds, or forgets the memory that folded it."""
        with self._memory:
            self._drop_speculation()
            generation = self._generation
            if generation != self._prepared_in:
                # Forgotten since the batch under way was prepared (a park in its
                # transaction, a failed preparation): what it would fold on is read again
                # outside that transaction, without its rows. Prepared in its turn instead.
                return
            ahead = self._prepared_after(stream, events, after)
            if self._generation != generation:  # its preparation failed and forgot
                return
            seqs = [e.seq for e in events]
            self._speculated = Speculation(generation, stream, seqs, ahead, time.time())

    def _take_speculation(
        self, stream: str, events: list[StoredEvent], expected: int
    ) -> Speculation | None:
        """The speculation, if it is this batch's beginning and still holds (the memory
        lock held)."""
        spec, self._speculated = self._speculated, None
        if spec is None:
            return None
        if (
            spec.generation == self._generation
            and spec.stream == stream
            and spec.ahead.expected == expected
            and [e.seq for e in events[: len(spec.seqs)]] == spec.seqs
        ):
            self.speculations_used += 1
            return spec
        self._speculated = spec
        self._forget()  # its memory folded events that come otherwise, or again (counted)
        return None

    def _parked_by_fold(self) -> None:
        """The batch under way parks events its fold step could not take, in its open
        transaction. A cold timeline's history read outside it would fold them in: the
        refusal set (`_refusing`) holds only verdicts that never change, and a fold step's
        failure may not come again (a history that could not be loaded, a fold that is not
        pure). So nothing is prepared ahead on this batch, and what was is dropped with the
        memory that folded it: the next batch is prepared once the parks are committed, as
        in its turn (review20f)."""
        with self._memory:
            self._prepared_in = -1
            self._drop_speculation()

    def _drop_speculation(self) -> None:
        if self._speculated is not None:
            self._forget()  # counted

    def _in_transaction(
        self, conn: Connection, stream: str, events: list[StoredEvent], ahead: Ahead
    ) -> int:
        """Apply what is after the stored checkpoint and move it, in `conn`'s transaction;
        the new position (committed by the caller)."""
        current = conn.execute(
            select(checkpoints.c.seq).where(
                checkpoints.c.projection == self.projection.key, checkpoints.c.stream == stream
            )
        ).scalar_one_or_none()
        position = int(current or 0)
        prepared = ahead.prepared
        if prepared is not None and position != ahead.expected:
            self._forget()  # its memory ran ahead from another position
            prepared = None
        fresh = [e for e in events if e.seq > position]  # skip redeliveries after a crash
        if fresh and prepared is None:
            with self._memory:  # folded here: a speculation made beside it is dropped
                self._drop_speculation()
                position = self._apply_trusted(conn, fresh, ahead.refused, None)
        elif fresh:
            position = self._apply_trusted(conn, fresh, ahead.refused, prepared)
        upsert(
            conn,
            checkpoints,
            {
                "projection": self.projection.key,
                "stream": stream,
                "seq": position,
                "updated_at": datetime.now(UTC),
            },
            ["projection", "stream"],
        )
        return position

    def _refused(self, stream: str, events: list[StoredEvent]) -> dict[int, str]:
        """Sequence -> why it may not be taken as fact (`eventstore.trust`)."""
        # The readers of a connection share one verdict (a rebuild, a retried batch).
        duplicates = duplicates_of(getattr(self._source, "nc", None)) or self._duplicates
        return duplicates.refusals(stream, events)

    def _apply_trusted(
        self,
        conn: Connection,
        events: list[StoredEvent],
        refused: dict[int, str],
        prepared: Prepared | None,
    ) -> int:
        """Park what may not be taken as fact, apply the rest."""
        kept = [e for e in events if e.seq not in refused] if refused else events
        for event in events:
            if event.seq in refused:
                self._park(conn, event, RefusedEvent(refused[event.seq]))
        if kept:
            self._apply_all(conn, kept, prepared)  # `prepare` ran on exactly these
        return events[-1].seq

    def _prepare(self, events: list[StoredEvent]) -> Prepared | None:
        if not events or not isinstance(self.projection, BatchProjection):
            return None
        try:
            prepared = self.projection.prepare(self._engine.dialect, events)
        except Exception:  # applied in the transaction instead, where failures are parked
            self._forget()
            return None
        self._fold_failed(events[0].stream, [e.seq for e, _ in _fold_failures(prepared)])
        return prepared

    def _forget(self) -> None:
        with self._memory:
            self._generation += 1  # a speculation from before is stale
            with self._refusing_guard:
                self._failing.clear()  # found by folds of the memory forgotten here
            if self._speculated is not None:
                self._speculated = None
                self.speculations_dropped += 1
            if isinstance(self.projection, BatchProjection):
                self.projection.reset()

    def _apply_all(
        self, conn: Connection, events: list[StoredEvent], prepared: Prepared | None = None
    ) -> int:
        if isinstance(self.projection, BatchProjection):
            failures = self._apply_batch_projection(conn, self.projection, events, prepared)
            if failures:
                self._parks_decided(events[0].stream, [e.seq for e, _ in failures])
                self._parked_by_fold()
            for event, exc in failures:
                self._park(conn, event, exc)
            return events[-1].seq
        # Fast path: the whole batch under one savepoint. Only when some event fails do we
        # redo the batch event by event, each under its own savepoint, to park just that one.
        try:
            with conn.begin_nested():
                for event in events:
                    self.projection.apply(conn, event)
            return events[-1].seq
        except (OperationalError, InterfaceError):
            raise  # the database, not an event: fail the batch, never park it
        except Exception:
            pass
        for event in events:
            try:
                with conn.begin_nested():
                    self.projection.apply(conn, event)
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:
                self._park(conn, event, exc)
        return events[-1].seq

    def _apply_batch_projection(
        self,
        conn: Connection,
        projection: BatchProjection,
        events: list[StoredEvent],
        prepared: Prepared | None = None,
    ) -> list[Failure]:
        """The projection reports what it cannot apply. A statement the database refuses for
        the data (a constraint) is isolated to its event, which is parked; the database
        itself failing (OperationalError) fails the batch, never parks."""
        try:
            with conn.begin_nested():
                if prepared is not None:  # `prepare` ran on exactly these events
                    return prepared.write(conn)
                return projection.apply_batch(conn, events)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            self._forget()
        failures: list[Failure] = []
        with self._memory:  # folded here, one event at a time
            self._drop_speculation()
            for event in events:
                try:
                    with conn.begin_nested():
                        found = projection.apply_batch(conn, [event])
                except (OperationalError, InterfaceError):
                    raise
                except Exception as exc:
                    self._forget()
                    found = [(event, exc)]
                failures += found
                # Parked in this transaction: the aggregate's later events in this batch,
                # folded from a cold history after the forgetting, leave it out (pipe21).
                self._parks_decided(event.stream, [e.seq for e, _ in found])
        return failures

    def _park(self, conn: Connection, event: StoredEvent, exc: Exception) -> None:
        envelope = event.envelope
        log.error(
            "projection %s parked %s #%s: %s", self.projection.key, event.stream, event.seq, exc
        )
        conn.execute(
            parked.insert().values(
                projection=self.projection.key,
                stream=event.stream,
                seq=event.seq,
                event_id=envelope.event_id,
                event_type=envelope.event_type,
                aggregate=f"{envelope.aggregate_type}/{envelope.aggregate_id}",
                error=(
                    str(exc) if isinstance(exc, RefusedEvent) else f"{type(exc).__name__}: {exc}"
                )[:2000],
                parked_at=datetime.now(UTC),
            )
        )
        self.parked_count += 1

    async def status(self) -> ProjectionStatus:
        from eventstore.projection_status import (
            ProjectionStatus,
            StreamStatus,
            parked_count,
            stream_status,
        )

        streams = []
        for c in self.projection.contexts:
            position = self.positions.get(c.stream, 0)
            if isinstance(self._source, JetStreamSource):  # also the age of the lag
                streams.append(await stream_status(self._source.nc, c.stream, position))
                continue
            last = await self._source.last_seq(c)
            streams.append(StreamStatus(c.stream, position, last, max(0, last - position), 0.0))
        p = self.projection
        parked_events = await asyncio.to_thread(parked_count, self._engine, p.key)
        return ProjectionStatus(p.name, p.version, p.key, self.live, parked_events, tuple(streams))

    async def _take_over_when_caught_up(self) -> None:
        from eventstore.projection_versions import take_over

        while not self.live:
            try:
                if (await self.status()).caught_up:
                    p = self.projection
                    await asyncio.to_thread(take_over, self._engine, p.name, p.version)
                    self.live, self.live_version = True, p.version
                    await self._announce()
                    log.info("projection %s caught up and took over", p.key)
                    return
            except Exception as exc:  # broker hiccup: try again
                log.info("take-over check of %s failed: %s", self.projection.key, exc)
            await asyncio.sleep(0.25)

    async def stream_heads(
        self, contexts: Sequence[BoundedContext] | None = None
    ) -> dict[str, int]:
        """The last sequence of the streams this projection reads, as the store has it now."""
        from eventstore.errors import StreamNotFound

        heads: dict[str, int] = {}
        for context in contexts if contexts is not None else self.projection.contexts:
            try:
                heads[context.stream] = await self._source.last_seq(context)
            except StreamNotFound:
                heads[context.stream] = 0  # nothing stored yet: nothing to wait for
        return heads

    async def wait_until(self, positions: dict[str, int], timeout: float) -> bool:
        """Wait until every stream this projection reads has reached the given sequence."""
        relevant = {
            s: q for s, q in positions.items() if s in {c.stream for c in self.projection.contexts}
        }

        def reached() -> bool:
            return all(self.positions.get(s, 0) >= q for s, q in relevant.items())

        try:
            async with asyncio.timeout(timeout):
                async with self._advanced:
                    await self._advanced.wait_for(reached)
        except TimeoutError:
            if self.leading:
                return False
            # Core NATS may have lost an announcement: one last look at the checkpoints.
            self.checkpoint_looks += 1
            await self._advance(await asyncio.to_thread(self._stored_positions))
            return reached()
        return True
