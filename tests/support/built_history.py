"""A generated history's gateway read models, built once per test process, and the valid
instants worth asking them about (the programme spans' and the programme totals' property
tests, which had each their own copy).

Built through the read models' batch path (`bench.direct.build_read_models`) into the
session's base temporary directory on first use, then only read: every hypothesis example
and every test of the module asks the same database. The instants are found once as well
(each example used to scan every event and the pieces' table again): the history and the
built tables do not change after the build, so neither do they."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, select

from bench.direct import build_read_models
from eventstore.bitemporal_sql import micros
from eventstore.sql import make_engine
from eventstore.store import StoredEvent
from gateway.readmodels import ReadModels

LAST_ASKABLE = micros(datetime.max.replace(tzinfo=UTC))


class BuiltHistory:
    """`read(directory)`: the history's read models in `directory / filename`, built at the
    first call of the process. `valid_instants(read)`, found at the first call: every
    event's valid instant, the `valid_from`/`valid_to` edges of the table `edges_of` names,
    and `also`; those under `below` if given; each a microsecond either side too, sorted;
    only those a client can ask (a datetime: the open end `FOREVER` and a microsecond before
    it lie beyond year 9999, CI of stop 40)."""

    def __init__(
        self,
        streams: dict[str, list[StoredEvent]],
        filename: str,
        *,
        batch: int,
        edges_of: Callable[[ReadModels], Table],
        also: Iterable[int] = (),
        below: int | None = None,
    ) -> None:
        self.streams = streams
        self.filename = filename
        self.batch = batch
        self.edges_of = edges_of
        self.also = set(also)
        self.below = below
        self._read: ReadModels | None = None
        self._instants: list[int] | None = None

    def read(self, directory: Path) -> ReadModels:
        if self._read is None:
            engine = make_engine(f"sqlite:///{directory / self.filename}")
            build_read_models(engine, self.streams, batch=self.batch)
            self._read = ReadModels(engine)
        return self._read

    def valid_instants(self, read: ReadModels) -> list[int]:
        assert read is self._read, "the instants of this history's own read models"
        if self._instants is None:
            found = {micros(e.envelope.occurred_at) for s in self.streams.values() for e in s}
            found |= self.also
            table = self.edges_of(read)
            with read.engine.connect() as conn:
                for start, end in conn.execute(select(table.c.valid_from, table.c.valid_to)):
                    found |= {start, end}
            if self.below is not None:
                found = {v for v in found if v < self.below}
            either_side = found | {v - 1 for v in found} | {v + 1 for v in found}
            self._instants = sorted(v for v in either_side if v <= LAST_ASKABLE)
        return self._instants
