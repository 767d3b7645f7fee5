"""Wires the notifier's parts explicitly: read model, ticker, publisher, commands, webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import date

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from contracts_schema.subjects import BoundedContext
from eventstore.clock import Clock
from eventstore.projection import ProjectionRunner
from eventstore.serving import CommandServer
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait
from notifier.projection import NotifierSchedule
from notifier.publisher import IntegrationPublisher
from notifier.routes import internal_service, public_service
from notifier.settings import NotifierSettings
from notifier.ticker import ExpiryTicker, TickResult
from notifier.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


class InstanceRunner(ProjectionRunner):
    """A runner whose consumers belong to one read-model database.

    Each notifier instance keeps its own read model; with the runner's default names all
    instances would share (and split between them) one consumer per stream. Naming consumers
    after the database keeps a restart on the same database resuming its own consumer.
    """

    def __init__(
        self, nc: NATS, engine: Engine, projection: NotifierSchedule, *, database: str
    ) -> None:
        super().__init__(nc, engine, projection)
        self._suffix = hashlib.sha256(database.encode()).hexdigest()[:10]

    def consumer_name(self, context: BoundedContext) -> str:
        return f"{super().consumer_name(context)}_{self._suffix}"


class Notifier:
    def __init__(self, nc: NATS, engine: Engine, clock: Clock, settings: NotifierSettings) -> None:
        self.settings = settings
        self.clock = clock
        self.store = EventStore(nc, clock, replicas=settings.stream_replicas)
        self.projection = NotifierSchedule()
        self.runner = InstanceRunner(nc, engine, self.projection, database=settings.database_url)
        self._internal = internal_service(self.store, clock)
        self.ticker = ExpiryTicker(
            self._internal,
            self.store,
            engine,
            self.projection,
            self.runner,
            settings.expiry_policy(),
        )
        self.publisher = IntegrationPublisher(
            nc,
            self.store,
            engine,
            self.projection,
            self.runner,
            replicas=settings.stream_replicas,
            ack_wait=settings.integration_ack_wait,
        )
        self.commands = CommandServer(nc, public_service(self.store, clock))
        self.webhooks = WebhookDispatcher(nc, engine, self.projection, clock, settings)
        self._tasks: list[asyncio.Task[None]] = []
        self._started: list[str] = []
        self._stopping = asyncio.Event()

    async def start(
        self,
        *,
        commands: bool = True,
        publish: bool = True,
        webhooks: bool = True,
        tick_every: float | None = None,
    ) -> None:
        """Start the read model always; the rest as asked (tests start only what they test)."""
        await self._internal.start()
        await self.runner.start()
        if commands:
            await self.commands.start()
            self._started.append("commands")
        if publish:
            await self.publisher.start()
            self._started.append("publish")
        if webhooks:
            await self.webhooks.start()
            self._started.append("webhooks")
        if tick_every is not None:
            self._stopping.clear()
            self._tasks.append(asyncio.create_task(self._tick_loop(tick_every)))

    async def tick(self, day: date | None = None) -> TickResult:
        return await self.ticker.tick(day or self.clock.now().date())

    async def _tick_loop(self, every: float) -> None:
        while not self._stopping.is_set():
            try:
                result = await self.tick()
                if result.raised:
                    log.info("raised %d expiry warning(s)", len(result.raised))
            except Exception:
                log.exception("expiry tick failed; trying again next interval")
            await asyncio.sleep(every)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks.clear()
        if "webhooks" in self._started:
            await self.webhooks.stop()
        if "publish" in self._started:
            await self.publisher.stop()
        if "commands" in self._started:
            await self.commands.stop()
        self._started.clear()
        await self.runner.stop()
