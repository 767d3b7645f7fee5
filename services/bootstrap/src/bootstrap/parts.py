"""The one place that makes CommandServices and projection runners, from the services' parts.

Services expose parts only: their command routes and event types (`CommandParts`), their
projections, their background tasks. `command_service` and `projection_runner` (made in
`bootstrap.runners`, light enough for the projector process, and re-exported here) are the only
constructions of `CommandService` (or a subclass) and `ProjectionRunner` outside the event
store and its tests (`tests/unit/test_one_bootstrap.py` holds it so). Every entry point goes
through here: the embedded system (`bootstrap.system`, `make run`), each container command
(`bootstrap.serve`), the audit CLI (`bootstrap.audit_cli`), the benchmarks and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

# Light, for the projector process (it imports no service): re-exported as the factory.
from bootstrap.runners import projection_runner as projection_runner
from contracts_schema.subjects import CONTEXTS, NOTIFIER
from enrolment.app import COMMANDS as ENROLMENT_COMMANDS
from enrolment.app import READ_MODEL as ENROLMENT_READ_MODEL
from eventstore.clock import Clock
from eventstore.commands import CommandParts, CommandService
from eventstore.ports import EventStorePort
from eventstore.projection import ProjectionRunner
from eventstore.settings import CommandSettings
from eventstore.signing import PUBLIC_KEYS_ENV, EventSigner, local_seed
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.trust import Trust, configured, install
from gateway.readside import ReadSide, start_read_side
from gateway.settings import GatewaySettings
from notifier.db import notifier_engine
from notifier.projection import NotifierSchedule
from notifier.routes import INTERNAL_COMMANDS, PUBLIC_COMMANDS
from notifier.service import Notifier
from notifier.settings import NotifierSettings
from registry.app import COMMANDS as REGISTRY_COMMANDS


def readers_trust(data_dir: Path | None = None) -> Trust:
    """What readers accept as fact: events signed by the key trusted for their context, as
    `audit verify` trusts them (`<data>/keys`, made here for every context when missing;
    GT_SIGNING_PUBLIC_KEYS)."""
    if data_dir is not None:
        for name in CONTEXTS:
            local_seed(data_dir, name)
    return configured(data_dir)


def trust_readers(data_dir: Path | None = None, *connections: NATS) -> Trust:
    """`readers_trust`, for every reader on `connections` (none: of this process)."""
    return install(readers_trust(data_dir), *connections)


def public_keys_setting(trust: Trust) -> dict[str, str]:
    """GT_SIGNING_PUBLIC_KEYS for a child process, so its readers trust the same keys."""
    keys = [
        f"{context}={key}" if last is None else f"{context}={key}@{last}"
        for context, bounds in sorted(trust.keys.items())
        for key, last in sorted(bounds.items())
    ]
    return {PUBLIC_KEYS_ENV: ",".join(keys)} if keys else {}


def command_service(
    parts: CommandParts,
    store: EventStorePort,
    clock: Clock,
    settings: CommandSettings | None = None,
) -> CommandService:
    """The CommandService of a service's command parts, on any event store."""
    settings = settings or CommandSettings()
    return parts.kind(
        parts.context,
        store,
        clock,
        parts.routes(store),
        parts.event_types,
        max_attempts=parts.max_attempts,
        future_tolerance=settings.valid_time_tolerance,
    )


# Each service's command side.


def registry_service(store: EventStorePort, clock: Clock) -> CommandService:
    return command_service(REGISTRY_COMMANDS, store, clock)


def enrolment_service(store: EventStorePort, clock: Clock) -> CommandService:
    return command_service(ENROLMENT_COMMANDS, store, clock)


def notifier_service(store: EventStorePort, clock: Clock) -> CommandService:
    """The notifier's public commands (webhook subscriptions), the ones served on NATS."""
    return command_service(PUBLIC_COMMANDS, store, clock)


# Services with a read model or background tasks beside their commands.


@dataclass
class EnrolmentParts:
    service: CommandService
    runner: ProjectionRunner
    engine: Engine

    async def stop(self) -> None:
        await self.runner.stop()
        self.engine.dispose()


async def enrolment(store: EventStore, nc: NATS, clock: Clock, database_url: str) -> EnrolmentParts:
    """The enrolment command service, and its registry-facts read model started beside it."""
    engine = make_engine(database_url)
    runner = projection_runner(nc, engine, ENROLMENT_READ_MODEL())
    await runner.start()
    return EnrolmentParts(enrolment_service(store, clock), runner, engine)


def notifier(
    nc: NATS, clock: Clock, settings: NotifierSettings, engine: Engine | None = None
) -> Notifier:
    """The notifier's schedule read model, ticker, feed, webhooks and commands (not started)."""
    engine = engine or notifier_engine(settings.database_url)
    signers = {NOTIFIER.name: EventSigner(settings.signing_seed)} if settings.signing_seed else {}
    store = EventStore(nc, clock, replicas=settings.stream_replicas, signers=signers)
    return Notifier(
        nc,
        store,
        engine,
        clock,
        settings,
        runner=projection_runner(nc, engine, NotifierSchedule()),
        internal=command_service(INTERNAL_COMMANDS, store, clock),
        public=notifier_service(store, clock),
    )


async def read_side(
    nc: NATS,
    settings: GatewaySettings,
    store: EventStore,
    *,
    read_database_url: str | None = None,
    follow: bool = False,
    serve: bool = True,
) -> ReadSide:
    """The gateway's projections (or, with `follow`, a projector process's), read models and
    (with `serve`) GraphQL app."""
    return await start_read_side(
        nc,
        settings,
        store,
        projection_runner,
        read_database_url=read_database_url,
        follow=follow,
        serve=serve,
    )
