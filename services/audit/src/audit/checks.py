"""`audit verify`: the log's integrity, then every projection against a scratch rebuild."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from audit.integrity import corruption, sqlite_file
from audit.rebuild import Comparison, compare, live_checkpoints, rebuild
from audit.verify import Problem, StreamReport, verify_streams
from audit.wiring import Engines, UnknownDatabase
from contracts_schema.subjects import BoundedContext
from eventstore.projection import Projection, RunnerFactory, parked
from eventstore.sql import make_engine
from eventstore.store import EventStore

Progress = Callable[[int], None]


@dataclass
class VerifyReport:
    streams: list[StreamReport] = field(default_factory=list)
    projections: list[Comparison] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        found = [p for s in self.streams for p in s.problems]
        return found + [p for c in self.projections for p in c.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_projection(
    store: EventStore,
    live: Engine,
    projection: Projection,
    scratch_dir: Path,
    progress: Progress | None = None,
    *,
    runners: RunnerFactory,
) -> Comparison:
    upto = live_checkpoints(live, projection)
    if upto is None:
        report = Comparison(projection.key)
        report.problems.append(
            Problem(
                f"projection {projection.key}", "not-built", "no checkpoint in the live database"
            )
        )
        return report
    scratch = make_engine(f"sqlite:///{scratch_dir / (projection.key + '.db')}")
    try:
        try:
            rebuilt = await rebuild(
                store, scratch, projection, runners=runners, upto=upto, progress=progress
            )
        except Exception as exc:  # e.g. the runner refuses a stream with a hole in it
            report = Comparison(projection.key)
            detail = f"could not rebuild from the streams: {type(exc).__name__}: {exc}"
            report.problems.append(
                Problem(f"projection {projection.key}", "rebuild-failed", detail)
            )
            return report
        report = compare(projection, live, scratch, rebuilt.tables)
        report.problems.extend(parked_problems(live, projection.key))
        return report
    finally:
        scratch.dispose()


def parked_problems(live: Engine, key: str) -> list[Problem]:
    """A parked event is one the read model does not show: verify fails until it is resolved."""
    c = parked.c
    with live.connect() as conn:
        rows = conn.execute(
            select(c.stream, c.seq, c.event_id, c.error).where(c.projection == key)
        ).all()
    return [
        Problem(
            f"{stream} seq {seq}",
            "parked",
            f"projection {key} could not apply it: {error}",
            str(event_id),
        )
        for stream, seq, event_id, error in rows
    ]


def broken_database(engine: Engine) -> Problem | None:
    """A read model in a corrupt SQLite file cannot be compared: name the file instead."""
    path = sqlite_file(engine.url)
    found = None if path is None else corruption(path)
    if path is None or found is None:
        return None
    detail = f"{path} is corrupt ({found}); run `audit projections rebuild`"
    return Problem(f"database {path}", "corrupt-database", detail)


async def verify_all(
    store: EventStore,
    contexts: Sequence[BoundedContext],
    live: Engine | None,
    projections: Sequence[Callable[[], Projection]],
    progress: Progress | None = None,
    *,
    runners: RunnerFactory,
    trusted: Mapping[str, set[str]] | None = None,
) -> VerifyReport:
    report = VerifyReport(await verify_streams(store, contexts, progress, trusted))
    if live is None:
        return report
    engines = Engines(live)  # a read model may live in its service's own database
    try:
        with tempfile.TemporaryDirectory(prefix="audit-verify-") as scratch_dir:
            for make in projections:
                projection = make()
                try:
                    engine = engines.of(make)
                except UnknownDatabase as exc:
                    where = f"projection {projection.key}"
                    found = Comparison(
                        projection.key, problems=[Problem(where, "unlocated", str(exc))]
                    )
                    report.projections.append(found)
                    continue
                broken = broken_database(engine)
                if broken is not None:
                    report.projections.append(Comparison(projection.key, problems=[broken]))
                    continue
                report.projections.append(
                    await verify_projection(
                        store, engine, projection, Path(scratch_dir), progress, runners=runners
                    )
                )
    finally:
        engines.dispose()
    return report
