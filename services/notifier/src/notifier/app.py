"""The notifier's entry point: FastStream serves its commands; the rest runs beside it."""

from __future__ import annotations

from faststream import FastStream
from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS

from eventstore.clock import Clock, SystemClock
from eventstore.commands import CommandService
from eventstore.service_app import build_service_app, connect_nats
from eventstore.store import EventStore
from notifier.db import notifier_engine
from notifier.routes import public_service
from notifier.service import Notifier
from notifier.settings import NotifierSettings


def build_app(
    settings: NotifierSettings | None = None, clock: Clock | None = None
) -> tuple[FastStream, NatsBroker]:
    settings = settings or NotifierSettings()
    clock = clock or SystemClock()

    async def make(store: EventStore, nc: NATS, service_clock: Clock) -> CommandService:
        return public_service(store, service_clock)

    app, broker = build_service_app("notifier", make, settings, clock)
    running: list[tuple[NATS, Notifier]] = []

    @app.after_startup
    async def start_notifier() -> None:
        nc = await connect_nats(settings, "notifier-background")
        notifier = Notifier(nc, notifier_engine(settings.database_url), clock, settings)
        # Commands are served by FastStream above; here the read model, feed, ticks, webhooks.
        await notifier.start(commands=False, tick_every=settings.tick_interval_seconds)
        running.append((nc, notifier))

    @app.on_shutdown
    async def stop_notifier() -> None:
        for nc, notifier in running:
            await notifier.stop()
            await nc.close()

    return app, broker
