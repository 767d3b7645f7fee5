"""The gateway's handle on its read models: tables, an engine, and read-your-writes waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Executable, MetaData, RowMapping, Table, text, true
from sqlalchemy.exc import DBAPIError

from contracts_schema.calendar import dutch_day
from eventstore.bitemporal_sql import instant, micros, view
from eventstore.commands import parse_consistency_token
from eventstore.projection import Projection, ProjectionRunner
from eventstore.timeline import FOREVER
from gateway.projections import (
    ContractsProjection,
    EnrolmentProjection,
    EventLogProjection,
    OrganisationsProjection,
    TendersProjection,
)

P = TypeVar("P", bound=Projection)


class ConsistencyError(Exception):
    """A consistency token was malformed or the projections did not reach it in time."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AtHorizon:
    """A read model's tables as they stood at one horizon: same names, same columns.

    A versioned table reads as the versions valid at `valid` and known at `known`; the
    event log (immutable events) as the events that had happened and were recorded by then.
    Each table's view is built once, so one statement that names it twice joins nothing twice.
    """

    def __init__(self, projection: Projection, valid: int, known: int, present: bool) -> None:
        self._projection = projection
        self._valid, self._known, self._present = valid, known, present
        self._views: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._projection, name)
        if not isinstance(value, Table):
            return value
        if name not in self._views:
            self._views[name] = horizon_view(value, self._valid, self._known, self._present)
        return self._views[name]


def local_date(value: int | None) -> date | None:
    """A microsecond instant as the Dutch calendar day it falls on."""
    moment = instant(value) if value is not None else None
    return dutch_day(moment) if moment else None


# "As known now" is everything recorded: a service's clock a little ahead of the gateway's
# must not hide a write that was just acknowledged.
KNOWN_NOW = FOREVER - 1
AUDIT_HISTORY = "audit_history"  # the audit's history read model (answers entitiesAsOf)


def horizon_view(table: Table, valid: int, known: int, present: bool = False) -> Any:
    if "versioned_key" in table.info:
        return view(table, valid, known)
    if "occurred_at" in table.c and "recorded_at" in table.c:  # the event log
        if present:
            return table  # events are immutable: the present log is the whole log
        happened = table.c.occurred_at <= instant(valid)
        recorded = table.c.recorded_at <= instant(known) if known != KNOWN_NOW else true()
        return table.select().where(happened, recorded).subquery(table.name)
    return table


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
        self._checked: list[tuple[float, list[str]]] = []  # shared: the last integrity check

    def at(self, valid: int, known: int, *, present: bool = False) -> ReadModels:
        bound = ReadModels(self.engine, self.runners, horizon=(valid, known))
        bound._fallback = self._fallback  # share the fallback table definitions
        bound._checked = self._checked
        bound.present = present
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
            self._bound[kind] = AtHorizon(projection, *self.horizon, self.present)
        return self._bound[kind]

    def _current(self, kind: type[P]) -> P:
        """The live version's tables: a rebuilding new version is read only once it took over."""
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

    async def rows(self, statement: Executable) -> list[RowMapping]:
        return await asyncio.to_thread(self._rows, statement)

    async def scalar(self, statement: Executable) -> Any:
        return await asyncio.to_thread(self._scalar, statement)

    def _rows(self, statement: Executable) -> list[RowMapping]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement).mappings())

    def _scalar(self, statement: Executable) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    async def integrity(self, max_age: float = 60.0) -> list[str]:
        """What is wrong with the database file itself (SQLite's quick_check, which reads the
        whole file: its answer is kept for `max_age` seconds). Empty when whole."""
        now = time.monotonic()
        if not self._checked or now - self._checked[0][0] > max_age:
            self._checked[:] = [(now, await asyncio.to_thread(self._integrity))]
        return self._checked[0][1]

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
        """Block until every projection has applied the writes named by a consistency token."""
        try:
            positions = parse_consistency_token(token)
        except ValueError as exc:
            raise ConsistencyError("INVALID_CONSISTENCY_TOKEN", str(exc)) from exc
        if not positions:
            return
        results = await asyncio.gather(
            *(runner.wait_until(positions, timeout) for runner in self.runners)
        )
        if not all(results):
            late = [r.projection.key for r, ok in zip(self.runners, results, strict=True) if not ok]
            raise ConsistencyError(
                "CONSISTENCY_TIMEOUT",
                f"the read models {', '.join(late)} did not reach {token} within {timeout:g}s;"
                " retry the query with the same token",
            )

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


def _defined(projection: P) -> P:
    projection.define(MetaData())
    return projection
