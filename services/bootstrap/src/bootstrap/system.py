"""Explicit wiring of the whole system in one process: the three services and the gateway.

Used by `python -m bootstrap` (`make run`), the benchmarks and the tests, so all of them run
the same composition.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS
from sqlalchemy import Engine
from starlette.applications import Starlette

from bootstrap import parts
from bootstrap.parts import EnrolmentParts
from bootstrap.read_models import ENROLMENT_DB, NOTIFIER_DB, READ_MODELS_DB, embedded_databases
from contracts_schema.subjects import CONTEXTS, NOTIFIER
from eventstore.checkpoints import checkpoint_periodically
from eventstore.clock import Clock, SystemClock
from eventstore.projection import ProjectionRunner
from eventstore.service_app import serve_in_process, server_url
from eventstore.signing import local_seed, local_signer
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait
from gateway.readmodels import ReadModels
from gateway.readside import ReadSide
from gateway.settings import GatewaySettings
from notifier.service import Notifier
from notifier.settings import NotifierSettings


@dataclass
class System:
    nc: NATS
    data_dir: Path
    settings: GatewaySettings
    clock: Clock = field(default_factory=SystemClock)
    with_notifier: bool = True
    # The expiry schedule: at start, every GT_TICK_INTERVAL_SECONDS (an hour) and when woken.
    # `make run` runs it; tests that do not test warnings leave it off (no date-dependent
    # events in their streams).
    schedule: bool = False
    protect_streams: bool = True  # False only in tests that tamper with the log on purpose
    checkpoint_interval: float = 60.0  # seconds between signed checkpoints of each stream
    commands: NatsBroker | None = None  # FastStream, with the containers' subscriber
    runners: list[ProjectionRunner] = field(default_factory=list)
    enrolment: EnrolmentParts | None = None
    notifier: Notifier | None = None
    engine: Engine | None = None
    read: ReadModels | None = None
    app: Starlette | None = None
    read_side: ReadSide | None = None
    anchoring: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def databases(self) -> dict[str, str]:
        """The URL of every read-model database (the gateway's is its settings')."""
        return embedded_databases(self.data_dir) | {READ_MODELS_DB: self.settings.database_url}

    @property
    def all_runners(self) -> list[ProjectionRunner]:
        """The runner of every read model of `bootstrap.read_models`, the services' included."""
        runners = list(self.runners)
        if self.enrolment is not None:
            runners.append(self.enrolment.runner)
        if self.notifier is not None:
            runners.append(self.notifier.runner)
        return runners

    async def start(self) -> System:
        # Each context's key, generated under the data dir (public halves for `audit verify`).
        signers = {name: local_signer(self.data_dir, name) for name in CONTEXTS}
        store = EventStore(self.nc, self.clock, protect=self.protect_streams, signers=signers)
        for context in CONTEXTS.values():
            await store.ensure_stream(context)
            self.anchoring.append(
                asyncio.create_task(
                    checkpoint_periodically(
                        store, context, signers[context.name], self.checkpoint_interval
                    )
                )
            )
        self.enrolment = await parts.enrolment(
            store, self.nc, self.clock, self.databases[ENROLMENT_DB]
        )
        services = [parts.registry_service(store, self.clock), self.enrolment.service]
        if self.with_notifier:
            url = self.databases[NOTIFIER_DB]
            seed = local_seed(self.data_dir, NOTIFIER.name)
            notifier_settings = NotifierSettings(database_url=url, signing_seed=seed)
            self.notifier = parts.notifier(self.nc, self.clock, notifier_settings)
            every = notifier_settings.tick_interval_seconds if self.schedule else None
            await self.notifier.start(commands=False, webhooks=False, tick_every=every)
            services.append(self.notifier.public)
        # The containers' FastStream subscriber, on a broker connected to the same server.
        self.commands = await serve_in_process(server_url(self.nc), services)
        self.read_side = await parts.read_side(self.nc, self.settings, store)
        self.engine, self.runners = self.read_side.engine, self.read_side.runners
        self.read, self.app = self.read_side.read, self.read_side.app
        return self

    async def stop(self) -> None:
        for task in self.anchoring:
            await cancel_and_wait(task)
        if self.commands is not None:
            await self.commands.stop()
        if self.read_side is not None:
            await self.read_side.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        if self.enrolment is not None:
            await self.enrolment.stop()
