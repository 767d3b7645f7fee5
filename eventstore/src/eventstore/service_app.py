"""A service's FastStream entry point: one queue-group subscriber for its command subjects.

The subscriber is thin: it hands the raw bytes to the CommandService and returns the
reply, which FastStream sends to the request's reply subject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import nats
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from faststream.security import SASLPlaintext
from nats.aio.client import Client as NATS

from eventstore.checkpoints import checkpoint_periodically
from eventstore.clock import Clock, SystemClock
from eventstore.commands import CommandService
from eventstore.health import HealthServer
from eventstore.observability import (
    InstrumentedEventStore,
    ObservabilitySettings,
    configure_logging,
    configure_tracing,
    library_logger,
    observe_command,
)
from eventstore.settings import NatsSettings
from eventstore.signing import EventSigner
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

ServiceFactory = Callable[[EventStore, NATS, Clock], Awaitable[CommandService]]


async def connect_nats(settings: NatsSettings, name: str) -> NATS:
    return await nats.connect(
        servers=settings.nats_url.split(","),
        name=name,
        user=settings.nats_user,
        password=settings.nats_password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
    )


def build_service_app(
    name: str,
    make_service: ServiceFactory,
    settings: NatsSettings | None = None,
    clock: Clock | None = None,
    observability: ObservabilitySettings | None = None,
) -> tuple[FastStream, NatsBroker]:
    settings = settings or NatsSettings()
    observability = observability or ObservabilitySettings()
    clock = clock or SystemClock()
    security = (
        SASLPlaintext(username=settings.nats_user, password=settings.nats_password or "")
        if settings.nats_user
        else None
    )
    # Before anything logs: FastStream's start-up lines are JSON too under GT_LOG_FORMAT=json.
    configure_logging(observability)
    configure_tracing(observability, name)
    logger = library_logger(observability, "faststream")
    if logger is not None:
        broker = NatsBroker(
            settings.nats_url.split(","),
            security=security,
            max_reconnect_attempts=-1,
            logger=logger,
        )
        app = FastStream(broker, logger=logger)
    else:
        broker = NatsBroker(
            settings.nats_url.split(","), security=security, max_reconnect_attempts=-1
        )
        app = FastStream(broker)
    holder: dict[str, CommandService] = {}
    connections: list[NATS] = []
    anchoring: list[asyncio.Task[None]] = []
    health = HealthServer(observability.metrics_host, max(observability.metrics_port, 0))

    @app.on_startup
    async def start_service() -> None:
        if observability.metrics_port >= 0:
            health.add_readiness("nats", lambda: all(nc.is_connected for nc in connections))
            health.add_readiness("commands", lambda: "service" in holder)
            await health.start()
            log.info("%s: /healthz, /readyz and /metrics on port %s", name, health.port)
        nc = await connect_nats(settings, f"{name}-eventstore")
        connections.append(nc)
        signer = EventSigner(settings.signing_seed) if settings.signing_seed else None
        if signer is None:
            log.warning("%s: GT_SIGNING_SEED unset: its events are not signed", name)
        signers = {name: signer} if signer else {}
        store = InstrumentedEventStore(
            nc, clock, replicas=settings.stream_replicas, signers=signers
        )
        service = await make_service(store, nc, clock)
        await service.start()
        holder["service"] = service
        if signer is not None:
            anchoring.append(
                asyncio.create_task(
                    checkpoint_periodically(
                        store, service.context, signer, settings.checkpoint_interval
                    )
                )
            )

    @app.on_shutdown
    async def stop_service() -> None:
        for task in anchoring:
            await cancel_and_wait(task)
        await health.stop()
        for nc in connections:
            await nc.close()

    subscribe_commands(broker, name, lambda: holder["service"], observability)
    return app, broker


def subscribe_commands(
    broker: NatsBroker,
    name: str,
    service: Callable[[], CommandService],
    observability: ObservabilitySettings,
    *,
    max_workers: int = 32,
) -> None:
    """The one command subscriber, for a container (`build_service_app`) and in-process."""

    async def on_command(message: NatsMessage) -> bytes:
        # Raw bytes in, raw bytes out: the CommandService parses and answers every payload.
        raw = message.raw_message
        return await observe_command(
            name,
            raw.subject,
            raw.headers or {},
            message.body,
            lambda: service().handle(raw.subject, message.body),
            propagate_trace=observability.trace_propagation,
        )

    # Registration is explicit and visible here: one subscriber per service, queue group shared.
    # Commands are handled concurrently (optimistic concurrency keeps each aggregate
    # consistent); without max_workers FastStream would take one command at a time.
    broker.subscriber(f"{name}.commands.*", queue=f"{name}-commands", max_workers=max_workers)(
        on_command
    )


async def serve_in_process(
    nats_url: str,
    services: Sequence[CommandService],
    observability: ObservabilitySettings | None = None,
    *,
    max_workers: int = 32,
    user: str | None = None,
    password: str | None = None,
) -> NatsBroker:
    """Serve several services' commands from this process (the embedded system, tests), with
    the subscriber the containers run; `await broker.stop()` ends it. `user`: the NATS login
    (the embedded system serves each service as its own user)."""
    observability = observability or ObservabilitySettings()
    security = SASLPlaintext(username=user, password=password or "") if user else None
    broker = NatsBroker(nats_url, security=security, max_reconnect_attempts=-1)
    for service in services:
        await service.start()
        subscribe_commands(
            broker,
            service.context.name,
            _constant(service),
            observability,
            max_workers=max_workers,
        )
    await broker.start()
    # The server has every subscription before the caller sends its first request.
    await broker.connection.flush()
    return broker


def server_url(nc: NATS) -> str:
    """The server `nc` is connected to, for a command broker's own connection beside it."""
    at = nc.connected_url
    assert at is not None, "connect to NATS before serving commands beside it"
    return f"{at.scheme}://{at.hostname}:{at.port}"


def _constant(service: CommandService) -> Callable[[], CommandService]:
    return lambda: service
