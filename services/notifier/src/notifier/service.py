"""Wires the notifier's parts explicitly: read model, ticker, publisher, commands, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from contracts_schema.calendar import dutch_day
from eventstore.clock import Clock
from eventstore.commands import CommandService
from eventstore.projection import ProjectionRunner
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait
from notifier.projection import NotifierSchedule
from notifier.publisher import IntegrationPublisher
from notifier.settings import NotifierSettings
from notifier.ticker import ExpiryTicker, TickResult
from notifier.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


class Notifier:
    """The notifier's background parts around its schedule read model; the composition root
    (`bootstrap.parts.notifier`) makes the runner and the two CommandServices it is given."""

    def __init__(
        self,
        nc: NATS,
        store: EventStore,
        engine: Engine,
        clock: Clock,
        settings: NotifierSettings,
        *,
        runner: ProjectionRunner,
        internal: CommandService,
        public: CommandService,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.nc = nc
        self.store = store
        assert isinstance(runner.projection, NotifierSchedule)
        self.projection: NotifierSchedule = runner.projection
        self.runner = runner
        self._internal = internal
        self.public = public
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
        self.commands: CommandServer | None = None  # the public commands, when served here
        self.webhooks = WebhookDispatcher(nc, engine, self.projection, clock, settings)
        self._tasks: list[asyncio.Task[None]] = []
        self._started: list[str] = []
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

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
            # The one command subscriber (FastStream), as the container serves them.
            self.commands = await serve_in_process(server_url(self.nc), [self.public])
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
        # The schedule's day is the Dutch calendar day, as every valid time in the registry.
        return await self.ticker.tick(day or dutch_day(self.clock.now()))

    def wake(self) -> None:
        """Run the schedule now (e.g. after a bulk load) instead of at the next interval."""
        self._wake.set()

    async def _tick_loop(self, every: float) -> None:
        # At start, then every interval (hourly by default, so a new day's warnings go out
        # within the hour after midnight), and whenever woken.
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result = await self.tick()
                if result.raised:
                    log.info("raised %d expiry warning(s)", len(result.raised))
            except Exception:
                log.exception("expiry tick failed; trying again next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks.clear()
        if "webhooks" in self._started:
            await self.webhooks.stop()
        if "publish" in self._started:
            await self.publisher.stop()
        if "commands" in self._started and self.commands is not None:
            await self.commands.stop()
            self.commands = None
        self._started.clear()
        await self.runner.stop()
