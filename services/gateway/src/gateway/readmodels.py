"""The gateway's handle on its read models: tables, an engine, and read-your-writes waits."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import (
    JSON,
    ClauseElement,
    Column,
    Engine,
    Executable,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    create_engine,
    func,
    select,
    text,
    true,
)
from sqlalchemy.engine.processors import str_to_datetime
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from contracts_schema.calendar import dutch_day
from eventstore.bitemporal_sql import instant, micros, view
from eventstore.projection import Projection, ProjectionRunner, checkpoints
from eventstore.timeline import FOREVER
from gateway.integrity import IntegrityCheck
from gateway.projections import (
    ContractsProjection,
    EnrolmentProjection,
    EventCountsProjection,
    EventLogProjection,
    OrganisationsProjection,
    TendersProjection,
)
from gateway.projections.common import UtcDateTime
from gateway.projections.event_counts import LEVELS, horizon_buckets
from gateway.projections.status_counts import horizon_parameters as corner_parameters
from gateway.token_waits import AUDIT_HISTORY as AUDIT_HISTORY  # (re-exported)
from gateway.token_waits import ConsistencyError as ConsistencyError  # (re-exported)
from gateway.token_waits import TokenWaits, parse, timed_out, wait_all

P = TypeVar("P", bound=Projection)
S = TypeVar("S")
STATEMENTS_KEPT = 1024  # statements kept by shape (LRU): a few per query the clients send
INLINE_BELOW = 0.001  # s of CPU: a driver batch cheaper than this runs on the event loop
UNLEARNED = None  # a kept statement not yet run through SQLAlchemy (its row keys unknown)
# A JSON text's document and where it ends (json.loads is this, plus a BOM test and two white
# space scans: ~70% of the cost of decoding a short list such as a participant's lots).
DOCUMENT = json.JSONDecoder().raw_decode
log = logging.getLogger(__name__)


def _direct(kind: Any, dialect: Any, processor: Any) -> Any:
    """A column's result processor with SQLAlchemy's layers folded into one function where
    they are known, giving the same value: the event log's UTC times (`UtcDateTime` over
    SQLite's `datetime.fromisoformat`) and JSON text (`json.loads`, no deserializer set: a
    text without white space around its document decoded by `raw_decode`, the rest by it)."""
    if processor is None or dialect.name != "sqlite":
        return processor
    if type(kind) is UtcDateTime:
        impl = kind.impl_instance.dialect_impl(dialect).result_processor(dialect, None)
        if impl is not str_to_datetime:
            return processor

        def utc(value: Any) -> Any:
            if value is None:
                return None
            moment = str_to_datetime(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

        return utc
    if isinstance(kind, JSON) and dialect._json_deserializer is None:
        if kind._str_impl.result_processor(dialect, None) is not None:
            return processor

        def loads(value: Any) -> Any:
            if type(value) is not str:
                return processor(value)
            try:  # the document alone, as json.loads reads it, without its wrappers' cost
                found, end = DOCUMENT(value)
            except ValueError:
                end = -1  # json.loads decides below, its error not chained to this one
            # Otherwise (white space around, text after the value, invalid) as json.loads does.
            return found if end == len(value) else json.loads(value)

        return loads
    return processor


class DriverForm:
    """A kept statement as SQLite's driver takes it: compiled once, run on the DBAPI cursor.

    SQLAlchemy's `execute` pays per statement for what a kept statement does not change: the
    compiled-cache look-up, an execution context, the result's metadata, a RowMapping per
    row. This runs the same compiled SQL with the same bound values, put through the same
    bind processors (`construct_params`, expanding parameters by `construct_expanded_state`),
    and returns each row as a dict of the keys SQLAlchemy's result gave (learned from the
    statement's first run through it), every value put through the column type's own result
    processor: the values SQLAlchemy's rows hold.
    """

    __slots__ = (
        "compiled", "expanding", "keys", "named", "positions", "processors", "quick", "results",
        "sql",
    )  # fmt: skip

    def __init__(self, statement: Any, keys: Sequence[str], dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        columns = compiled._result_columns
        if (
            not compiled.positional
            or compiled.schema_translate_map
            or len(columns) != len(keys)
            or len(set(keys)) != len(keys)
        ):
            raise ValueError("not a statement the driver form runs")
        self.compiled = compiled
        self.quick = False  # its last round trip's batch cost less CPU than INLINE_BELOW
        self.sql: str = compiled.string
        self.positions: Sequence[str] = compiled.positiontup or ()
        self.processors: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors
        self.expanding = bool(compiled.literal_execute_params or compiled.post_compile_params)
        self.keys = tuple(keys)
        found = (
            (i, _direct(c.type, dialect, c.type._cached_result_processor(dialect, None)))
            for i, c in enumerate(columns)
        )
        self.results = tuple((i, f) for i, f in found if f is not None)
        self.named = tuple((self.keys[i], f) for i, f in self.results)

    def run(self, cursor: Any, given: Mapping[str, Any], scalar: bool) -> Any:
        compiled = self.compiled
        if self.expanding:
            state = compiled.construct_expanded_state(given, escape_names=False)
            sql, positions, values = state.statement, state.positiontup or (), state.parameters
            processors: Mapping[str, Callable[[Any], Any]] = {
                **self.processors,
                **state.processors,
            }
        else:
            sql, positions, processors = self.sql, self.positions, self.processors
            values = compiled.construct_params(given, escape_names=False)
        arguments = [processors[k](values[k]) if k in processors else values[k] for k in positions]
        rows = cursor.execute(sql, arguments).fetchall()
        results = self.results
        if scalar:
            if not rows:
                return None
            value = rows[0][0]
            for i, process in results:
                if i == 0:
                    return process(value)
            return value
        keys = self.keys  # as many as the row's values (`_result_columns`, checked once)
        if not results:
            return [dict(zip(keys, row, strict=False)) for row in rows]
        named = self.named
        out = []
        for row in rows:
            found = dict(zip(keys, row, strict=False))
            for key, process in named:
                found[key] = process(found[key])
            out.append(found)
        return out


_VERDICT: list[str | None] = []  # the process's driver-form check, once (see below)


def driver_forms_unavailable(*, again: bool = False) -> str | None:
    """Why kept statements cannot run as `DriverForm`s with the installed SQLAlchemy, or None.

    The driver form reads SQLAlchemy's compiler internals (`_result_columns`,
    `_bind_processors`, `_cached_result_processor`, the JSON type's string impl; the minor
    version is pinned in the pyproject files). Checked once per process, at the read models'
    start: a probe table (text, JSON, a UTC time, an expanding IN list, a count) is read both
    ways on an in-memory SQLite and the rows compared. Any difference or missing attribute:
    every statement runs through SQLAlchemy, and the reason is logged. `again`: check anew.
    """
    if again or not _VERDICT:
        reason = _probe_driver_forms()
        _VERDICT[:] = [reason]
        if reason is not None:
            log.warning(
                "kept statements run through SQLAlchemy %s, not as driver forms: %s",
                sqlalchemy.__version__,
                reason,
            )
    return _VERDICT[0]


def _probe_driver_forms() -> str | None:
    metadata = MetaData()
    table = Table(
        "probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String),
        Column("doc", JSON),
        Column("at", UtcDateTime),
    )
    rows = (
        select(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)), table.c.name != bindparam("name"))
        .order_by(table.c.id)
    )
    count = select(func.count()).select_from(table).where(table.c.name != bindparam("name"))
    given = {"ids": [1, 2, 3], "name": "z"}
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            metadata.create_all(conn)
            conn.execute(
                table.insert(),
                [
                    {
                        "id": 1,
                        "name": "a",
                        "doc": {"k": [1, "x"]},
                        "at": datetime(2026, 1, 2, tzinfo=UTC),
                    },
                    {"id": 2, "name": "b", "doc": None, "at": None},
                    {"id": 3, "name": "z", "doc": [1.5], "at": datetime(2026, 5, 6, tzinfo=UTC)},
                ],
            )
            result = conn.execute(rows, given)
            form = DriverForm(rows, list(result.keys()), engine.dialect)
            read = [dict(r) for r in result.mappings()]
            total = conn.execute(count, given)
            counter = DriverForm(count, list(total.keys()), engine.dialect)
            expected = (read, total.scalar())
            driver = conn.connection.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            got = (form.run(cursor, given, False), counter.run(cursor, given, True))
            cursor.close()
    except Exception as exc:  # an internal missing or changed
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    if got != expected:
        return f"the driver form read {got!r} where SQLAlchemy read {expected!r}"
    return None


class AtHorizon:
    """A read model's tables as they stood at one horizon: same names, same columns.

    A versioned table reads as the versions valid at `valid` and known at `known`; the
    event log (immutable events) as the events that had happened and were recorded by then.
    The views name the horizon as bound parameters (`HORIZON_*`, given by `ReadModels.rows`):
    one view per table serves every request, and its statements share one compiled form.
    """

    def __init__(
        self, projection: Projection, views: dict[tuple[int, bool, bool], Any], shape: Shape
    ) -> None:
        self._projection = projection
        self._views = views
        self._shape = shape

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._projection, name)
        if not isinstance(value, Table):
            return value
        key = (id(value), *self._shape)
        found = self._views.get(key)
        if found is None or found[0] is not value:
            found = self._views[key] = (value, horizon_view(value, *self._shape))
        return found[1]


def local_date(value: int | None) -> date | None:
    """A microsecond instant as the Dutch calendar day it falls on."""
    moment = instant(value) if value is not None else None
    return dutch_day(moment) if moment else None


# "As known now" is everything recorded: a service's clock a little ahead of the gateway's
# must not hide a write that was just acknowledged.
KNOWN_NOW = FOREVER - 1


Shape = tuple[bool, bool]  # (present, known now): which predicates a horizon view needs
HORIZON_VALID, HORIZON_KNOWN = "horizon_valid", "horizon_known"  # µs
HORIZON_VALID_AT, HORIZON_KNOWN_AT = "horizon_valid_at", "horizon_known_at"  # the same, aware


def horizon_view(table: Table, present: bool, known_now: bool) -> Any:
    """The table at the horizon its statement's parameters name (see `horizon_parameters`)."""
    if "versioned_key" in table.info:
        return view(table, bindparam(HORIZON_VALID), bindparam(HORIZON_KNOWN))  # type: ignore[arg-type]
    if "occurred_at" in table.c and "aggregate_version" in table.c:  # the event log
        # (its links carry the same instants since v3, and are read through them as they are)
        if present:
            return table  # events are immutable: the present log is the whole log
        happened = table.c.occurred_at <= bindparam(HORIZON_VALID_AT)
        recorded = true() if known_now else known_by_horizon(table)
        return table.select().where(happened, recorded).subquery(table.name)
    return table


def known_by_horizon(log: Table) -> Any:
    """An event of the log is known at the horizon when it and every earlier version of its
    aggregate were recorded by then: the rule every reader takes (`eventstore.known_time`),
    so a legacy history recorded backwards (a later version sealed by a clock behind its
    predecessor's) is not known before its predecessor here either. For a history recorded
    by the rule (`records.recorded_after`) this is `recorded_at` alone: the NOT EXISTS probes
    the aggregate's index for the events recorded by then, and finds nothing."""
    known_at: Any = bindparam(HORIZON_KNOWN_AT)
    earlier = log.alias(f"{log.name}_earlier")
    later_recorded = (
        select(earlier.c.seq)
        .where(
            earlier.c.aggregate_type == log.c.aggregate_type,
            earlier.c.aggregate_id == log.c.aggregate_id,
            earlier.c.context == log.c.context,
            earlier.c.aggregate_version < log.c.aggregate_version,
            earlier.c.recorded_at > known_at,
        )
        .exists()
    )
    return and_(log.c.recorded_at <= known_at, ~later_recorded)


def horizon_parameters(valid: int, known: int) -> dict[str, Any]:
    return {
        HORIZON_VALID: valid,
        HORIZON_KNOWN: known,
        HORIZON_VALID_AT: instant(valid),
        HORIZON_KNOWN_AT: instant(known) if known != KNOWN_NOW else None,  # not asked then
    }


def _next_is_open(pool: Any, queue: Any) -> bool:
    """Whether the record the pool's queue hands out next keeps its connection at checkout
    (SQLAlchemy reconnects a record invalidated, recycled, or older than the pool's last
    invalidation as a whole: `_ConnectionRecord.get_connection`). Read under the queue's
    lock; an unexpected shape of SQLAlchemy's pool answers False (the batch takes a thread)."""
    records = getattr(queue, "queue", None)
    if not records:
        return False
    record = records[-1] if getattr(queue, "use_lifo", False) else records[0]
    started = getattr(record, "starttime", None)
    recycle = getattr(pool, "_recycle", None)
    invalidated = getattr(pool, "_invalidate_time", None)
    if getattr(record, "dbapi_connection", None) is None:
        return False
    if started is None or recycle is None or invalidated is None:
        return False
    if recycle > -1 and time.time() - started > recycle:
        return False
    return bool(invalidated <= started)


# The contracts version whose tables hold the status corners (`projections.status_counts`).
STATUS_CORNERS_SINCE = 5
# The event counts' version whose cells are a Fenwick tree (`projections.event_counts`).
COUNT_TREE_SINCE = 2


class ReadModels:
    """Projection instances (their tables) over one engine; reads run off the event loop.

    `at(valid, known)` gives the same read models at a horizon; a request asks the present
    through `at_now()`, so every answer, past or present, is the same predicate on versions.
    """

    def __init__(
        self,
        engine: Engine,
        runners: Sequence[ProjectionRunner] = (),
        *,
        horizon: tuple[int, int] | None = None,
    ) -> None:
        self.engine = engine
        self.runners = list(runners)
        self._by_type = {type(r.projection): r for r in self.runners}
        self._fallback: dict[tuple[type[Projection], int | None], Projection] = {}
        self.horizon = horizon
        self.present = False
        self._bound: dict[type[Projection], AtHorizon] = {}
        self._views: dict[tuple[int, bool, bool], Any] = {}  # shared: one view per table, shape
        self._parameters = horizon_parameters(*horizon) if horizon else {}
        # shared: statements by shape (see `statement`)
        self._statements: OrderedDict[Hashable, tuple[tuple[Any, ...], Any]] = OrderedDict()
        # shared: the kept statements' driver forms by id (see `DriverForm`), UNLEARNED
        # until one ran through SQLAlchemy, False where the driver form does not apply
        self._forms: dict[int, tuple[Any, DriverForm | bool | None]] = {}
        self.driver_reads = False  # kept statements on SQLite run as `DriverForm`s
        self._driven = [0, 0]  # shared: statements run as driver forms, batches on the loop
        self._pending: list[tuple[Executable, Mapping[str, Any], bool, asyncio.Future[Any]]] = []
        self._running: set[asyncio.Future[Any]] = set()
        self.integrity_check = IntegrityCheck(self._integrity)  # shared by every horizon
        # The request's read-your-writes (shared by its horizons), and the read models whose
        # tables this instance handed out: what its statements may read (`token_waits`).
        self.waits: TokenWaits | None = None
        self._touched: set[type[Projection]] = set()
        if horizon is None and engine.dialect.name == "sqlite":
            driver_forms_unavailable()  # at the start: logs why, if kept statements cannot

    def at(self, valid: int, known: int, *, present: bool = False) -> ReadModels:
        bound = ReadModels(self.engine, self.runners, horizon=(valid, known))
        bound._fallback = self._fallback  # share the fallback table definitions
        bound._views = self._views
        bound._statements = self._statements
        bound._forms = self._forms
        bound._driven = self._driven
        bound.integrity_check = self.integrity_check
        bound.present = present
        bound.driver_reads = self.driver_reads
        bound.waits = self.waits
        return bound

    def at_now(self) -> ReadModels:
        return self.at(micros(datetime.now(UTC)), KNOWN_NOW, present=True)

    def versions(self, kind: type[P]) -> P:
        """A read model's own tables: every version, for questions about history itself."""
        return self._current(kind)

    def _read(self, kind: type[P]) -> Any:
        projection = self._current(kind)
        if self.horizon is None:
            return projection
        if kind not in self._bound:
            shape = (self.present, self.horizon[1] == KNOWN_NOW)
            self._bound[kind] = AtHorizon(projection, self._views, shape)
        return self._bound[kind]

    def _current(self, kind: type[P]) -> P:
        """The live version's tables: a rebuilding new version is read only once it took over."""
        self._touched.add(kind)  # a statement built from them waits for it (`rows`)
        runner = self._by_type.get(kind)
        if runner is not None and runner.live:
            return runner.projection  # type: ignore[return-value]
        version = runner.live_version if runner is not None else None
        key = (kind, version)
        if key not in self._fallback:
            projection = kind()
            if version is not None:
                projection.version = version  # type: ignore[misc]
            self._fallback[key] = _defined(projection)
        return self._fallback[key]  # type: ignore[return-value]

    @property
    def event_log(self) -> EventLogProjection:
        return self._read(EventLogProjection)  # type: ignore[no-any-return]

    @property
    def organisations(self) -> OrganisationsProjection:
        return self._read(OrganisationsProjection)  # type: ignore[no-any-return]

    @property
    def tenders(self) -> TendersProjection:
        return self._read(TendersProjection)  # type: ignore[no-any-return]

    @property
    def contracts(self) -> ContractsProjection:
        return self._read(ContractsProjection)  # type: ignore[no-any-return]

    @property
    def enrolment(self) -> EnrolmentProjection:
        return self._read(EnrolmentProjection)  # type: ignore[no-any-return]

    def event_count(self) -> tuple[Executable, dict[str, Any]] | None:
        """The whole event log's count at this request's past horizon, from the stored
        counts (`projections.event_counts`): the statement and its parameters. None at the
        present (the log's own count: the counts' runner may lag the log's by a batch, and
        the present is not waited for) and without a horizon.

        A past horizon is answered only after every read model reached the present
        (`reach_present`), so the counts and the log hold the same events."""
        if self.horizon is None or self.present:
            return None
        known_now = self.horizon[1] == KNOWN_NOW
        log = self._current(EventLogProjection).events
        counts = self._current(EventCountsProjection)
        if counts.version < COUNT_TREE_SINCE:
            # An older version still serves while the tree's rebuilds beside it: the log's
            # rows are counted (correct, slower) until the new one takes over.
            return None
        parameters = horizon_buckets(
            self._parameters[HORIZON_VALID_AT],
            self._parameters[HORIZON_KNOWN_AT],
            days=counts.days is not None,
        )
        log_key = self._current(EventLogProjection).key
        statement = self.statement(
            ("event_count", log, counts.tree, counts.late, counts.days, known_now, log_key),
            lambda: _in_step(_event_count(log, counts, known_now), log_key, counts.key),
        )
        return statement, {**self._parameters, **parameters}

    def status_count(self) -> tuple[Executable, dict[str, Any]] | None:
        """The contracts in any of `filter_statuses` (the caller's parameter) at this
        request's past horizon, from their versions' stored corners
        (`projections.status_counts`): the statement and its parameters. None at the
        present (the horizon index counts it, unchanged) and without a horizon. Written in
        the contracts' own transaction: always in step with their rows."""
        if self.horizon is None or self.present:
            return None
        contracts = self._current(ContractsProjection)
        if contracts.version < STATUS_CORNERS_SINCE:
            # An older version still serves while the new one rebuilds beside it: its tables
            # have no corners; the rows are counted, as that version's code did (review15).
            return None
        valid, known = self.horizon
        known_now = known == KNOWN_NOW
        counts = contracts.status_counts
        statement = self.statement(
            ("status_count", counts.points, counts.cells, counts.weeks, known_now),
            lambda: counts.count(known_now),
        )
        return statement, corner_parameters(valid, None if known_now else known)

    def statement(self, shape: tuple[Any, ...], build: Callable[[], S]) -> S:
        """The statement of this shape, built once and kept (LRU) for every request after.

        A statement built per request costs SQLAlchemy a cache key (a walk of the whole
        statement, views included) before its compiled form is found; one kept and run with
        new parameter values (`rows(statement, parameters)`) costs neither. `shape` names
        everything the statement is built from except the values its bound parameters take;
        the tables and views in it (the live version's, at this horizon's shape) are
        compared by identity, so a version taking over builds anew.
        """
        key = tuple(id(p) if isinstance(p, ClauseElement) else p for p in shape)
        found = self._statements.get(key)
        if found is not None and all(
            a is b for a, b in zip(found[0], shape, strict=True) if isinstance(b, ClauseElement)
        ):
            self._statements.move_to_end(key)
            return found[1]  # type: ignore[no-any-return]
        built = build()
        self._statements[key] = (shape, built)
        for kept in _executables(built):
            self._forms[id(kept)] = (kept, UNLEARNED)
        if len(self._statements) > STATEMENTS_KEPT:
            _, (_, evicted) = self._statements.popitem(last=False)
            for kept in _executables(evicted):
                self._forms.pop(id(kept), None)
        return built

    async def rows(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> list[RowMapping]:
        waits = self.waits
        if waits is not None and waits.pending:  # read-your-writes: what it may read first
            await waits.reach(self._by_type, self._touched)
        return await self._submit(statement, parameters, scalar=False)  # type: ignore[no-any-return]

    async def scalar(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Any:
        waits = self.waits
        if waits is not None and waits.pending:
            await waits.reach(self._by_type, self._touched)
        return await self._submit(statement, parameters, scalar=True)

    def _submit(
        self, statement: Executable, parameters: Mapping[str, Any] | None, *, scalar: bool
    ) -> asyncio.Future[Any]:
        """Queue a statement for this loop turn's round trip (one thread hop, one connection).

        Everything a request asks in one turn of the event loop (a page's count and rows,
        the DataLoaders of one list level) travels together: one hop per level, not per
        statement, and one transaction, so the statements see one snapshot.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        given = {**self._parameters, **parameters} if parameters else self._parameters
        self._pending.append((statement, given, scalar, future))
        return future

    def _flush(self) -> None:
        # The batch's round trip on the default executor; its waiters hear the results from
        # the executor future's callback (no task, no context copy: the thread needs neither).
        batch, self._pending = self._pending, []
        items = [(s, p, k) for s, p, k, _ in batch]
        if self.driver_reads:
            forms = [self._form(s) for s, _, _ in items]
            quick = all(isinstance(f, DriverForm) and f.quick for f in forms)
            try:
                idle = self._take_idle() if quick else None
            except Exception:  # a checkout that failed on the loop (a reconnect's PRAGMAs):
                idle = None  # the thread's round trip takes its own, and its waiters hear why
            if idle is not None:
                # Statements whose last round trip cost less CPU than a hop: on the loop,
                # as the plain endpoint runs its SQL.
                self._driven[1] += 1
                try:
                    results = self._execute_driver(items, forms, idle)  # type: ignore[arg-type]
                except Exception as exc:  # no connection at all: every waiter hears it
                    results = [(False, exc)] * len(batch)
                self._deliver_results(batch, results)
                return
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(None, self._execute, items)
        self._running.add(running)
        running.add_done_callback(functools.partial(self._deliver, batch))

    def _deliver(
        self,
        batch: list[tuple[Executable, Mapping[str, Any], bool, asyncio.Future[Any]]],
        running: asyncio.Future[list[tuple[bool, Any]]],
    ) -> None:
        self._running.discard(running)
        if running.cancelled():
            for *_, future in batch:
                future.cancel()
            return
        failed = running.exception()
        if failed is not None:  # no connection at all: every waiter hears it
            results: list[tuple[bool, Any]] = [(False, failed)] * len(batch)
        else:
            results = running.result()
        self._deliver_results(batch, results)

    @staticmethod
    def _deliver_results(
        batch: list[tuple[Executable, Mapping[str, Any], bool, asyncio.Future[Any]]],
        results: list[tuple[bool, Any]],
    ) -> None:
        for (*_, future), (ok, value) in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(value) if ok else future.set_exception(value)

    def _execute(
        self, batch: list[tuple[Executable, Mapping[str, Any], bool]]
    ) -> list[tuple[bool, Any]]:
        learn = (
            self.driver_reads
            and self.engine.dialect.name == "sqlite"
            and driver_forms_unavailable() is None
        )
        if learn:
            forms = [self._form(statement) for statement, _, _ in batch]
            if all(isinstance(f, DriverForm) for f in forms):
                return self._execute_driver(batch, forms)  # type: ignore[arg-type]
        results: list[tuple[bool, Any]] = []
        with self.engine.connect() as conn:
            for statement, parameters, scalar in batch:
                try:
                    result = conn.execute(statement, parameters)
                    if learn and self._form(statement) is UNLEARNED:
                        self._learn(statement, list(result.keys()))
                    results.append((True, result.scalar() if scalar else result.mappings().all()))
                except Exception as exc:  # this statement's waiter hears it, not the others
                    results.append((False, exc))
                    conn.rollback()  # a failed statement ends the transaction (PostgreSQL)
        return results

    def _take_idle(self) -> PoolProxiedConnection | None:
        """An idle pooled connection, or None: taking it on the loop must neither open a new
        one (its PRAGMAs may wait on a lock) nor wait for a thread to give one back.

        Looked for and taken under the pool queue's own lock, so that no executor thread's
        checkout takes the idle connection between the two (the loop would then open or
        wait after all); that lock only tried, never waited for: a thread holding it is mid
        checkout or return, and the batch takes the thread hop instead. Batches on the loop
        never overlap each other (each runs to its end in one callback)."""
        pool = self.engine.pool
        queue = getattr(pool, "_pool", None)
        lock = getattr(queue, "mutex", None)
        if not isinstance(pool, QueuePool) or lock is None or not lock.acquire(blocking=False):
            return None
        try:  # the queue's lock is re-entrant: the checkout below takes it again
            if pool.checkedin() == 0 or not _next_is_open(pool, queue):
                return None  # none idle, or the next one would reconnect (PRAGMAs) here
            return self.engine.raw_connection()
        finally:
            lock.release()

    @property
    def driven_statements(self) -> int:
        """Statements run as driver forms so far, by this and every bound copy."""
        return self._driven[0]

    @property
    def batches_on_the_loop(self) -> int:
        """Driver batches run on the event loop so far (the rest took the thread hop)."""
        return self._driven[1]

    def _form(self, statement: Any) -> DriverForm | bool | None:
        found = self._forms.get(id(statement))
        return found[1] if found is not None and found[0] is statement else False

    def _learn(self, statement: Any, keys: list[str]) -> None:
        try:
            form: DriverForm | bool = DriverForm(statement, keys, self.engine.dialect)
        except Exception:  # anything unusual keeps SQLAlchemy's execution
            form = False
        if id(statement) in self._forms:
            self._forms[id(statement)] = (statement, form)

    def _execute_driver(
        self,
        batch: list[tuple[Executable, Mapping[str, Any], bool]],
        forms: list[DriverForm],
        pooled: PoolProxiedConnection | None = None,
    ) -> list[tuple[bool, Any]]:
        """The batch on a pooled SQLite connection (`pooled`, else one taken from the pool),
        in one transaction as `_execute`'s (BEGIN as the engine's `begin` listener issues it;
        rolled back at the end); the connection goes back to the pool."""
        results: list[tuple[bool, Any]] = []
        self._driven[0] += len(batch)
        started = time.thread_time()
        pooled = pooled if pooled is not None else self.engine.raw_connection()
        try:
            connection = pooled.driver_connection
            assert connection is not None
            cursor = connection.cursor()
            begun = False
            for (_, parameters, scalar), form in zip(batch, forms, strict=True):
                try:
                    if not begun:
                        cursor.execute("BEGIN")
                        begun = True
                    results.append((True, form.run(cursor, parameters, scalar)))
                except Exception as exc:  # this statement's waiter hears it, not the others
                    results.append((False, exc))
                    connection.rollback()
                    begun = False
            cursor.close()
            if begun:
                connection.rollback()
        finally:
            pooled.close()
        quick = time.thread_time() - started < INLINE_BELOW
        for form in forms:
            form.quick = quick
        return results

    async def integrity(self) -> list[str]:
        """What is wrong with the database file itself (SQLite's quick_check), as of the last
        check finished (see `gateway.integrity`). Empty when whole."""
        return await self.integrity_check.problems()

    def _integrity(self) -> list[str]:
        try:
            with self.engine.connect() as conn:
                if self.engine.dialect.name != "sqlite":
                    conn.execute(text("SELECT 1"))
                    return []
                found = [str(r[0]) for r in conn.execute(text("PRAGMA quick_check"))]
        except DBAPIError as exc:
            found = [str(exc.orig)]
        if found == ["ok"]:
            return []
        return [
            "the read-model database is corrupt (run `audit projections rebuild`): "
            + "; ".join(found[:3])
        ]

    async def wait_for(self, token: str, timeout: float) -> None:
        """Block until every one of the gateway's own read models has applied the writes
        named by a consistency token (a request waits only for those it reads: `waits`).
        The audit's history read model is not waited for: the one field that reads it
        (`entitiesAsOf`) waits until it holds everything stored before the request, which
        includes any token's writes."""
        positions = parse(token)
        if not positions:
            return
        runners = [r for r in self.runners if r.projection.name != AUDIT_HISTORY]
        late = await wait_all(runners, positions, timeout) if runners else []
        if late:
            raise timed_out(token, late, timeout)

    async def reach_present(self, timeout: float, *, audit: bool = False) -> None:
        """Wait until the read models have applied every event stored before this call.

        A past horizon (asOf/knownAt) is answered only from read models that hold all it
        needs: everything recorded up to now includes everything recorded by any K <= now.
        The gateway's types read its own read models; `audit=True` waits for the audit's
        history read model (`entitiesAsOf`) instead.
        """
        runners = [r for r in self.runners if (r.projection.name == AUDIT_HISTORY) == audit]
        heads: dict[str, int] = {}
        try:
            for runner in runners:
                missing = [c for c in runner.projection.contexts if c.stream not in heads]
                if missing:
                    heads.update(await runner.stream_heads(missing))
        except Exception as exc:  # broker unreachable: say so rather than answer stale
            raise ConsistencyError(
                "HORIZON_NOT_REACHED",
                f"cannot tell how far the event streams reach ({type(exc).__name__}: {exc});"
                " a past answer is given only from read models that hold the whole history",
            ) from exc
        results = await asyncio.gather(*(runner.wait_until(heads, timeout) for runner in runners))
        late = [r.projection.key for r, ok in zip(runners, results, strict=True) if not ok]
        if late:
            raise ConsistencyError(
                "HORIZON_NOT_REACHED",
                f"the read models {', '.join(late)} have not yet applied every stored event"
                f" (waited {timeout:g}s); retry shortly",
            )


def _named(name: str) -> Any:
    return bindparam(name)


def _in_step(stored: Any, log_key: str, counts_key: str) -> Executable:
    """The stored count where the counts' runner has applied exactly the events the log's
    has (their checkpoints equal on every stream), else NULL: the caller then counts the
    log's rows (`page_rows`, in the same statement). The two runners commit apart; a past
    `asOf` known now counts events recorded since the request's `reach_present`, and one
    applied by the log and not yet by the counts was listed but not counted (review14)."""
    mine, theirs = checkpoints.alias("log_at"), checkpoints.alias("counts_at")

    def ahead(a: Any, a_key: str, b: Any, b_key: str) -> Any:
        other = and_(b.c.projection == b_key, b.c.stream == a.c.stream)
        return (
            select(a.c.stream)
            .select_from(a.outerjoin(b, other))
            .where(a.c.projection == a_key, (b.c.seq.is_(None)) | (b.c.seq != a.c.seq))
            .exists()
        )

    differ = ahead(mine, log_key, theirs, counts_key) | ahead(theirs, counts_key, mine, log_key)
    return select(case((~differ, stored.scalar_subquery()), else_=None))


def _tree_sum(tree: Table) -> Any:
    """The tree's nodes at every (v, k) of D's chain x K's (`count_v_*`, `count_k_*`), each
    one seek of its primary key: the chains as two lists of values, CROSS JOINed (SQLite
    keeps a CROSS JOIN's order as written) before the tree. Written as `v IN (...) AND k IN
    (...)` SQLite seeks each v and reads all of that v's nodes for the k's (100k generated
    events: 10,687 VM steps against 4,220 at 10k); as pairs 2,764 and 2,750 (asof19). The
    chains are padded with node 0 to `levels` values: a 0 is passed over in its own loop
    (`vs.v > 0`, `ks.k > 0`), not sought in the tree (asof24e: 3,005 -> 1,186 VM steps at
    10k generated events, a known instant)."""

    def chain(prefix: str) -> str:
        return ", ".join(f"(CAST(:{prefix}_{x} AS INTEGER))" for x in range(LEVELS))

    nodes = (
        text(
            f"WITH vs(v) AS (VALUES {chain('count_v')}), ks(k) AS (VALUES {chain('count_k')})"
            f" SELECT {tree.name}.n AS n FROM vs CROSS JOIN ks CROSS JOIN {tree.name}"
            f" WHERE vs.v > 0 AND ks.k > 0"
            f" AND {tree.name}.v = vs.v AND {tree.name}.k = ks.k"
        )
        .columns(column("n", Integer))
        .subquery("tree_nodes")
    )
    return select(func.coalesce(func.sum(nodes.c.n), 0))


def _event_count(log: Table, counts: EventCountsProjection, known_now: bool) -> Executable:
    """count(events happened by D and known by K) as the cells wholly before D's and K's
    buckets (the tree's nodes: a fixed number of seeks, asof19) plus the two edge strips
    counted exactly: those happened in D's bucket (by D, known by K), and those happened
    before D's bucket that became known in K's bucket (by K). The strips are read from the
    log's indexes by `recorded_at`, corrected by the few events known later than recorded
    (`late`). Known now: every event is known, so the cells before D's bucket and D's own
    strip. v3 (asof24e): the strips are D's day and K's day, and the days of D's week and
    K's week before them are summed from the day cells (`counts.days`)."""
    t, late = counts.tree, counts.late

    def number(query: Any) -> Any:
        return query.scalar_subquery()

    start_at, start = _named("count_valid_start_at"), _named("count_valid_start")
    valid_at, valid = _named(HORIZON_VALID_AT), _named("count_valid")
    # The cells before D's week and K's (known now: the root, every week): the nodes of the
    # two chains, at most LEVELS x LEVELS seeks of the tree's primary key.
    whole = _tree_sum(t)
    strip = (
        select(func.count())
        .select_from(log)
        .where(log.c.occurred_at >= start_at, log.c.occurred_at <= valid_at)
    )
    days = counts.days
    # v3: D's week's days before D's day (from the day cells); the strips are then D's day
    # and K's day (the parameters' starts are the days').
    week_days = None
    if days is not None:
        week_days = select(func.coalesce(func.sum(days.c.n), 0)).where(
            days.c.v >= _named("count_valid_week_day"), days.c.v < _named("count_valid_day")
        )
    if known_now:  # every event known: the tree's root column and D's strip
        if week_days is not None:
            return select(number(whole) + number(week_days) + number(strip))
        return select(number(whole) + number(strip))
    known_at, known = _named(HORIZON_KNOWN_AT), _named("count_known")
    known_start_at, known_start = _named("count_known_start_at"), _named("count_known_start")
    # D's strip: happened in D's bucket by D, recorded by K; less those recorded by K but
    # known only after it (an earlier version of their aggregate recorded after K).
    strip = strip.where(log.c.recorded_at <= known_at)
    strip_late = select(func.count()).where(
        late.c.occurred_at >= start,
        late.c.occurred_at <= valid,
        late.c.recorded_at <= known,
        late.c.known_from > known,
    )
    # K's strip: happened before D's bucket, became known in K's bucket by K: recorded
    # there, less the late ones recorded there, plus the late ones known there.
    edge = (
        select(func.count())
        .select_from(log)
        .where(
            log.c.recorded_at >= known_start_at,
            log.c.recorded_at <= known_at,
            log.c.occurred_at < start_at,
        )
    )
    edge_recorded = select(func.count()).where(
        late.c.recorded_at >= known_start, late.c.recorded_at <= known, late.c.occurred_at < start
    )
    edge_known = select(func.count()).where(
        late.c.known_from >= known_start, late.c.known_from <= known, late.c.occurred_at < start
    )
    total = (
        number(whole)
        + number(strip)
        - number(strip_late)
        + number(edge)
        - number(edge_recorded)
        + number(edge_known)
    )
    if days is None or week_days is None:
        return select(total)
    # v3: D's week's days before D's day known before K's day, and the weeks before D's
    # known on K's week's days before K's day (the index by known day).
    week_days = week_days.where(days.c.k < _named("count_known_day"))
    known_days = select(func.coalesce(func.sum(days.c.n), 0)).where(
        days.c.k >= _named("count_known_week_day"),
        days.c.k < _named("count_known_day"),
        days.c.v < _named("count_valid_week_day"),
    )
    return select(total + number(week_days) + number(known_days))


def _executables(built: Any) -> list[Any]:
    """The statements a kept build holds: itself, or those of its tuple (a page's)."""
    found = built if isinstance(built, tuple) else (built,)
    return [s for s in found if isinstance(s, Executable)]


def _defined(projection: P) -> P:
    projection.define(MetaData())
    return projection
