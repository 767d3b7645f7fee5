"""Explicit wiring of the whole system in one process: the three services and the gateway.

With `logins` (`make run`) each part connects as its own NATS user of the deployment's
accounts file: registry, enrolment, notifier (each with its command subscriber and its
checkpoint writer) and the gateway (projections, read models, GraphQL). Without, every part
shares the one connection given (tests on a server without authentication).

With `projector_process` (`make run`, the freshness benchmark) the gateway's read models are
applied by a child process, `python -m bootstrap.serve projector`, as in compose: started and
stopped with the system, its announced positions followed by the gateway for read-your-writes,
its unexpected exit reported by the gateway's health. Without, the gateway's runners apply
them here (the tests, which read `runners` directly).

Used by `python -m bootstrap` (`make run`), the benchmarks and the tests, so all of them run
the same composition.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import Engine
from starlette.applications import Starlette

from bootstrap import parts
from bootstrap.nats_local import Logins
from bootstrap.parts import EnrolmentParts
from bootstrap.projector_child import ProjectorProcess
from bootstrap.read_models import ENROLMENT_DB, NOTIFIER_DB, READ_MODELS_DB, embedded_databases
from contracts_schema.subjects import CONTEXTS, ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.checkpoints import checkpoint_periodically
from eventstore.clock import Clock, SystemClock
from eventstore.commands import CommandService
from eventstore.projection import ProjectionRunner
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.signing import EventSigner, local_seed, local_signer
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait
from gateway.readmodels import ReadModels
from gateway.readside import ReadSide
from gateway.settings import GatewaySettings
from notifier.nats_accounts import GATEWAY_USER, OPERATOR_USER, PROJECTOR_USER
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
    # Each part's own NATS login (`make run`: bootstrap.nats_local); None: every part on `nc`.
    logins: Logins | None = None
    brokers: list[CommandServer] = field(default_factory=list)  # each service's command subscriber
    connections: list[NATS] = field(default_factory=list)  # the logins opened here
    runners: list[ProjectionRunner] = field(default_factory=list)
    enrolment: EnrolmentParts | None = None
    notifier: Notifier | None = None
    engine: Engine | None = None
    read: ReadModels | None = None
    app: Starlette | None = None
    read_side: ReadSide | None = None
    anchoring: list[asyncio.Task[None]] = field(default_factory=list)
    projector_process: bool = False
    projector: ProjectorProcess | None = None

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

    async def _login(self, user: str) -> NATS:
        """A connection of its own as `user` (make run), or the one given (tests)."""
        if self.logins is None:
            return self.nc
        nc = await self.logins.connect(user)
        self.connections.append(nc)
        return nc

    async def _serve(self, user: str, service: CommandService) -> None:
        """The containers' FastStream subscriber for one service, logged in as that service."""
        if self.logins is None:
            broker = await serve_in_process(server_url(self.nc), [service])
        else:
            url, password = self.logins.url, self.logins.password(user)
            broker = await serve_in_process(url, [service], user=user, password=password)
        self.brokers.append(broker)

    def _anchor(self, nc: NATS, context: BoundedContext, signer: EventSigner) -> None:
        """The service's signed checkpoints of its own stream, on its own login."""
        store = EventStore(nc, self.clock, protect=self.protect_streams)
        loop = checkpoint_periodically(store, context, signer, self.checkpoint_interval)
        self.anchoring.append(asyncio.create_task(loop))

    def _projector_environment(self) -> dict[str, str]:
        """The projector's GT_* settings: this system's broker, its login, the read models."""
        env = {
            "GT_NATS_URL": self.logins.url if self.logins else server_url(self.nc),
            "GT_DATABASE_URL": self.settings.database_url,
            "GT_METRICS_PORT": "-1",  # its lag and parked events: the gateway's health
        }
        if self.logins is not None:
            env["GT_NATS_USER"] = PROJECTOR_USER
            env["GT_NATS_PASSWORD"] = self.logins.password(PROJECTOR_USER)
        return env

    async def start(self) -> System:
        # Each context's key, generated under the data dir (public halves for `audit verify`).
        signers = {name: local_signer(self.data_dir, name) for name in CONTEXTS}
        # Each part logs in as its container does (deploy/nats/accounts.conf), so the
        # permissions hold here too: a service appends only its own context's events.
        logins = {user: await self._login(user) for user in (REGISTRY.name, ENROLMENT.name)}
        # Without the notifier its stream is still read by the projections: the operator
        # creates it, as an operator would for a stream no running service owns.
        logins[NOTIFIER.name] = await self._login(
            NOTIFIER.name if self.with_notifier else OPERATOR_USER
        )
        stores = {
            name: EventStore(
                logins[name], self.clock, protect=self.protect_streams, signers={name: signer}
            )
            for name, signer in signers.items()
        }
        for name, context in CONTEXTS.items():
            await stores[name].ensure_stream(context)
        for name in (REGISTRY.name, ENROLMENT.name):
            self._anchor(logins[name], CONTEXTS[name], signers[name])
        self.enrolment = await parts.enrolment(
            stores[ENROLMENT.name], logins[ENROLMENT.name], self.clock, self.databases[ENROLMENT_DB]
        )
        await self._serve(REGISTRY.name, parts.registry_service(stores[REGISTRY.name], self.clock))
        await self._serve(ENROLMENT.name, self.enrolment.service)
        if self.with_notifier:
            url = self.databases[NOTIFIER_DB]
            seed = local_seed(self.data_dir, NOTIFIER.name)
            notifier_settings = NotifierSettings(database_url=url, signing_seed=seed)
            self.notifier = parts.notifier(logins[NOTIFIER.name], self.clock, notifier_settings)
            every = notifier_settings.tick_interval_seconds if self.schedule else None
            await self.notifier.start(commands=False, webhooks=False, tick_every=every)
            await self._serve(NOTIFIER.name, self.notifier.public)
            self._anchor(logins[NOTIFIER.name], NOTIFIER, signers[NOTIFIER.name])
        # The gateway: projections, read models and GraphQL; it sends commands and reads.
        if self.projector_process:
            self.projector = await ProjectorProcess.start(self._projector_environment())
        try:
            gateway = await self._login(GATEWAY_USER)
            self.read_side = await parts.read_side(
                gateway,
                self.settings,
                EventStore(gateway, self.clock, protect=self.protect_streams),
                follow=self.projector is not None,
            )
            if self.projector is not None:
                await self.projector.serving(self.read_side.runners)
        except BaseException:
            if self.projector is not None:  # no child outlives a failed start
                await self.projector.stop()
            raise
        self.engine, self.runners = self.read_side.engine, self.read_side.runners
        self.read, self.app = self.read_side.read, self.read_side.app
        return self

    async def stop(self) -> None:
        for task in self.anchoring:
            await cancel_and_wait(task)
        for broker in self.brokers:
            await broker.stop()
        if self.read_side is not None:
            await self.read_side.stop()
        if self.projector is not None:
            await self.projector.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        if self.enrolment is not None:
            await self.enrolment.stop()
        for nc in self.connections:
            await nc.close()
