"""The gateway's read side: its projection runners, the read models over them, the ASGI app.

One wiring for every topology. The runners either apply the projections here (`follow=False`:
tests, the embedded system without a projector process) or only follow the projector
process's announced positions (`follow=True`: `python -m bootstrap.serve gateway` beside
`... projector`, and `make run`); the projector starts the same list with `start_projections`.
The composition root hands in the runner factory (`bootstrap.parts.projection_runner`); the
gateway constructs no runner itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from sqlalchemy import Engine
from starlette.applications import Starlette

from audit.temporal import TemporalProjection
from eventstore.projection import Projection, ProjectionRunner, RunnerFactory
from eventstore.sql import make_engine
from eventstore.store import EventStore
from gateway.commandbus import CommandBus
from gateway.history.sources import audit_sources
from gateway.live import LiveEvents
from gateway.privacy.identities import IdentityStore
from gateway.privacy.retention import RetentionSweeper
from gateway.projections import ALL
from gateway.projections.event_log_history import fold_histories_from_the_event_log
from gateway.readmodels import ReadModels
from gateway.settings import GatewaySettings

# Every read model the gateway reads: its own, and the audit's history (entitiesAsOf). The
# audit's history may live in a database of its own (GT_AUDIT_DATABASE_URL) and be applied by a
# projector process of its own: on SQLite its fold then takes neither the CPU nor the one
# writer from the read models a read-your-writes waits for.
AWAITED: tuple[type[Projection], ...] = ALL
AUDIT: tuple[type[Projection], ...] = (TemporalProjection,)
PROJECTIONS = (*AWAITED, *AUDIT)
# What `python -m bootstrap.serve projector --read-models <key>` applies.
SELECTIONS: dict[str, tuple[type[Projection], ...]] = {
    "gateway": AWAITED,
    "audit": AUDIT,
    "all": PROJECTIONS,
}


@dataclass
class ReadSide:
    engine: Engine  # the projections write through it
    read_engine: Engine  # GraphQL reads through it (may be a read-only role)
    audit_engine: Engine | None = None  # the audit's history's, when apart (entitiesAsOf)
    runners: list[ProjectionRunner] = field(default_factory=list)
    read: ReadModels | None = None
    app: Starlette | None = None
    retention: RetentionSweeper | None = None

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        for runner in self.runners:
            await runner.stop()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self.audit_engine is not None:
            self.audit_engine.dispose()


async def start_projections(
    nc: NATS,
    engine: Engine,
    runners: RunnerFactory,
    *,
    follow: bool = False,
    projections: tuple[type[Projection], ...] = PROJECTIONS,
    audit_engine: Engine | None = None,
) -> list[ProjectionRunner]:
    """A started runner of every read model the gateway reads (or of `projections`), into
    (or over) `engine`; the audit's history into `audit_engine` when given."""
    made = [
        runners(
            nc,
            audit_engine if audit_engine is not None and projection in AUDIT else engine,
            projection(),
            follow=follow,
        )
        for projection in projections
    ]
    fold_histories_from_the_event_log(made)
    started: list[ProjectionRunner] = []
    try:
        for runner in made:
            await runner.start()
            started.append(runner)
    except BaseException:
        for runner in started:
            await runner.stop()
        raise
    return started


async def start_read_side(
    nc: NATS,
    settings: GatewaySettings,
    store: EventStore,
    runners: RunnerFactory,
    *,
    read_database_url: str | None = None,
    follow: bool = False,
    serve: bool = True,
) -> ReadSide:
    """Start (or, with `follow`, follow) every gateway projection on `settings.database_url`,
    then build the app (not with `serve=False`: a process that only waits for positions, as
    `make run`'s parent of a gateway process).

    `store` is only read (audit folds of an aggregate's history); it creates no stream.
    A follower reads the checkpoints through the read engine: it writes nothing.
    """
    engine = make_engine(settings.database_url)
    read_engine = make_engine(read_database_url) if read_database_url else engine
    audit_engine = make_engine(settings.audit_database_url) if settings.audit_database_url else None
    side = ReadSide(engine, read_engine, audit_engine)
    try:
        side.runners = await start_projections(
            nc, read_engine if follow else engine, runners, follow=follow, audit_engine=audit_engine
        )
    except BaseException:
        await side.stop()
        raise
    side.read = ReadModels(read_engine, side.runners)
    if not serve:
        return side
    from gateway.app import build_app  # here: the projector process imports no GraphQL

    identities = IdentityStore.open(settings.identity_database_url)  # apart: it can forget
    bus = CommandBus(nc)
    side.app = build_app(
        side.read,
        settings,
        bus,
        LiveEvents(nc),
        audit_sources(store, audit_engine or read_engine, identities),
        identities,
    )
    side.retention = RetentionSweeper(identities, bus, settings.identity_retention_days)
    side.retention.start()
    return side
