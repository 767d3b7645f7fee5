"""The gateway's handle on its read models: tables, an engine, and read-your-writes waits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, Executable, MetaData, RowMapping

from eventstore.commands import parse_consistency_token
from eventstore.projection import Projection, ProjectionRunner
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


class ReadModels:
    """Projection instances (their tables) over one engine; reads run off the event loop."""

    def __init__(self, engine: Engine, runners: Sequence[ProjectionRunner] = ()) -> None:
        self.engine = engine
        self.runners = list(runners)
        self._by_type = {type(r.projection): r for r in self.runners}
        self._fallback: dict[tuple[type[Projection], int | None], Projection] = {}

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
        return self._current(EventLogProjection)

    @property
    def organisations(self) -> OrganisationsProjection:
        return self._current(OrganisationsProjection)

    @property
    def tenders(self) -> TendersProjection:
        return self._current(TendersProjection)

    @property
    def contracts(self) -> ContractsProjection:
        return self._current(ContractsProjection)

    @property
    def enrolment(self) -> EnrolmentProjection:
        return self._current(EnrolmentProjection)

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

    async def reach_present(self, timeout: float) -> None:
        """Wait until every read model has applied every event stored before this call.

        A past horizon (asOf/knownAt) is answered only from read models that hold all it
        needs: everything recorded up to now includes everything recorded by any K <= now.
        """
        heads: dict[str, int] = {}
        try:
            for runner in self.runners:
                heads.update(await runner.stream_heads())
        except Exception as exc:  # broker unreachable: say so rather than answer stale
            raise ConsistencyError(
                "HORIZON_NOT_REACHED",
                f"cannot tell how far the event streams reach ({type(exc).__name__}: {exc});"
                " a past answer is given only from read models that hold the whole history",
            ) from exc
        results = await asyncio.gather(
            *(runner.wait_until(heads, timeout) for runner in self.runners)
        )
        late = [r.projection.key for r, ok in zip(self.runners, results, strict=True) if not ok]
        if late:
            raise ConsistencyError(
                "HORIZON_NOT_REACHED",
                f"the read models {', '.join(late)} have not yet applied every stored event"
                f" (waited {timeout:g}s); retry shortly",
            )


def _defined(projection: P) -> P:
    projection.define(MetaData())
    return projection
