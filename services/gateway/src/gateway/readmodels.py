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
        by_type = {type(r.projection): r.projection for r in self.runners}
        self.event_log = by_type.get(EventLogProjection) or _defined(EventLogProjection())
        self.organisations = by_type.get(OrganisationsProjection) or _defined(
            OrganisationsProjection()
        )
        self.tenders = by_type.get(TendersProjection) or _defined(TendersProjection())
        self.contracts = by_type.get(ContractsProjection) or _defined(ContractsProjection())
        self.enrolment = by_type.get(EnrolmentProjection) or _defined(EnrolmentProjection())

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


P = TypeVar("P", bound=Projection)


def _defined(projection: P) -> P:
    projection.define(MetaData())
    return projection
