"""A service's entry point: one queue-group subscriber for its command subjects.

FastStream runs the process (start-up and shutdown hooks, signals); the command subscriber
itself is a plain nats-py subscription (`CommandServer`), thin: it hands the raw bytes to the
CommandService and sends its reply to the request's reply subject.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.security import SASLPlaintext
from nats import connect
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter

from eventstore.checkpoints import checkpoint_periodically
from eventstore.clock import Clock, SystemClock
from eventstore.collector import freeze_start_up, tune_for_serving
from eventstore.commands import CommandService
from eventstore.flushing import flushed
from eventstore.health import HealthServer
from eventstore.inbox import Sink
from eventstore.nats_connect import CONNECT_TIMEOUT, quiet_errors
from eventstore.observability import (
    InstrumentedEventStore,
    ObservabilitySettings,
    configure_logging,
    configure_tracing,
    library_logger,
    observe_command,
)
from eventstore.partitions import PartitionServer
from eventstore.settings import NatsSettings
from eventstore.signing import EventSigner
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait

# Which subscription took each command: a partition's (`<ctx>.commands.<p>.<T>`, where the
# owner's warm cache is) or the unpartitioned fallback (`<ctx>.commands.<T>`, partition "none").
COMMANDS_RECEIVED = Counter(
    "gt_commands_received_total",
    "Commands this process took, by service and partition subject ('none': unpartitioned).",
    ["service", "partition"],
)

log = logging.getLogger(__name__)

# Commands taken beyond those under way, at most, in number and in bytes (nats-py's limits of
# a subscription's queue, which commands taken as read no longer pass through).
WAITING_LIMIT = 512 * 1024
WAITING_BYTES_LIMIT = 128 * 1024 * 1024

ServiceFactory = Callable[[EventStore, NATS, Clock], Awaitable[CommandService]]


async def connect_nats(settings: NatsSettings, name: str) -> NATS:
    return await connect(
        servers=settings.nats_url.split(","),
        name=name,
        user=settings.nats_user,
        password=settings.nats_password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=CONNECT_TIMEOUT,
        error_cb=quiet_errors(name),
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
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet_errors(f"{name}-broker"),
            logger=logger,
        )
        app = FastStream(broker, logger=logger)
    else:
        broker = NatsBroker(
            settings.nats_url.split(","),
            security=security,
            max_reconnect_attempts=-1,
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet_errors(f"{name}-broker"),
        )
        app = FastStream(broker)
    holder: dict[str, CommandService] = {}
    servers: list[CommandServer] = []
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
        health.add_report("event_streams", store.losses.health)  # lost messages (guard22)
        service = await make_service(store, nc, clock)
        await service.start()
        holder["service"] = service
        server = CommandServer(nc)
        await server.serve(name, _constant(service), observability)
        await server.flush()
        servers.append(server)
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
        for server in servers:  # no new commands; those under way finish, records written
            await server.stop()
        for task in anchoring:
            await cancel_and_wait(task)
        await health.stop()
        for nc in connections:
            await nc.close()

    return app, broker


def run_app(app: FastStream) -> None:
    """Run a service process's app until it is stopped, on uvloop (libuv's event loop) where
    it is installed: a command costs mostly 10-15% less CPU than on asyncio's own loop
    (`python -m bench.cost`; bench/findings.md). The collector is tuned for serving
    (`eventstore.collector.tune_for_serving`), and what start-up made (modules, schemas, the
    service) is frozen once it serves: it lives as long as the process, so full collections
    stop walking it. Only here, in a process of its own: tests start the same app in theirs."""
    tune_for_serving()
    app.after_startup(freeze_start_up)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(app.run())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # (a platform without it): asyncio's own loop
        return None
    return uvloop.new_event_loop


class CommandServer:
    """The command subscriptions of one or more services on one NATS connection.

    A plain nats-py queue subscription per service, not FastStream's subscriber: its
    per-message middleware, logging and decoding cost as much CPU as the command itself
    (docs/benchmarks.md, "what it costs"). Raw bytes in, raw bytes out: the CommandService
    parses and answers every payload. Up to `max_workers` commands are handled at once
    (optimistic concurrency keeps each aggregate consistent; one aggregate's commands queue
    in its service); beyond that the subscription stops taking messages until one ends.
    """

    def __init__(self, nc: NATS, *, max_workers: int = 64, owns_connection: bool = False) -> None:
        self._nc = nc
        self._owns = owns_connection
        self._free = max_workers  # commands that may start now
        # Taken, waiting for a slot (beyond `max_workers` under way), in arrival order.
        self._waiting: collections.deque[tuple[Msg, Callable[[Msg], Coroutine[Any, Any, None]]]] = (
            collections.deque()
        )
        self._waiting_bytes = 0  # of the waiting commands' bodies
        self._subscriptions: list[Subscription] = []
        self._partitions: list[PartitionServer] = []
        self._services: list[Callable[[], CommandService]] = []
        self._running: set[asyncio.Task[None]] = set()

    @property
    def connection(self) -> NATS:
        return self._nc

    @property
    def waiting(self) -> int:
        """Commands taken but not started: every slot is busy."""
        return len(self._waiting)

    def _start(self, msg: Msg, answer: Callable[[Msg], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(answer(msg))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _ended(self) -> None:
        """A command's slot is free: the next one waiting takes it (before this one's task
        ends, so `stop` never sees none running while some wait)."""
        if self._waiting:
            msg, answer = self._waiting.popleft()
            self._waiting_bytes -= len(msg.data)
            self._start(msg, answer)
        else:
            self._free += 1

    async def serve(
        self,
        name: str,
        service: Callable[[], CommandService],
        observability: ObservabilitySettings,
    ) -> None:
        """Subscribe `name.commands.*` in the queue group `name-commands` (every process of
        that service shares it: each command goes to one of them), and the partitions of
        `name.commands.<partition>.*` this process owns among the service's live processes
        (`eventstore.partitions`: one aggregate's commands meet one process).

        Commands are taken as the connection reads them (`inbox.Sink`, cmd18): the command's
        task is created inside nats-py's parse, not one loop turn later by the
        subscription's own task taking it off nats-py's per-message queue."""
        nc = self._nc
        propagate = observability.trace_propagation

        async def answer(msg: Msg) -> None:
            try:
                subject, body = msg.subject, msg.data
                reply = await observe_command(
                    name,
                    subject,
                    msg.headers or {},
                    body,
                    lambda: service().handle(subject, body),
                    propagate_trace=propagate,
                )
                if msg.reply:
                    await nc.publish(msg.reply, reply)
            except Exception:  # the reply could not be sent (connection closing): log it
                log.exception("%s: reply to a command on %s not sent", name, msg.subject)
            finally:
                self._ended()

        received: dict[str, Any] = {}  # COMMANDS_RECEIVED's children by partition

        def on_command(msg: Msg) -> None:
            parts = msg.subject.split(".")  # <ctx>.commands[.<partition>].<type>
            partition = parts[2] if len(parts) == 4 else "none"
            counter = received.get(partition)
            if counter is None:  # (`labels` looks the child up under a lock on every call)
                counter = received[partition] = COMMANDS_RECEIVED.labels(name, partition)
            counter.inc()
            if self._free > 0:
                self._free -= 1
                self._start(msg, answer)
            elif (
                len(self._waiting) < WAITING_LIMIT
                and self._waiting_bytes + len(msg.data) <= WAITING_BYTES_LIMIT
            ):  # back-pressure: waits for a slot
                self._waiting.append((msg, answer))
                self._waiting_bytes += len(msg.data)
            else:  # as nats-py drops a slow consumer's messages beyond its queue's limits
                log.error(
                    "%s: %d commands (%d bytes) waiting; %s dropped",
                    name, len(self._waiting), self._waiting_bytes, msg.subject,
                )  # fmt: skip

        context = service().context
        subject = context.command_subject("*")
        sub = await nc.subscribe(subject, queue=f"{name}-commands", future=Sink(on_command))  # type: ignore[arg-type]
        self._subscriptions.append(sub)
        self._services.append(service)
        partitions = PartitionServer(nc, context, f"{name}-commands", on_command)
        await partitions.start()
        self._partitions.append(partitions)
        log.info(
            "%s: commands on %s (queue group %s-commands) and its partitions (member %s)",
            name,
            subject,
            name,
            partitions.instance,
        )

    async def flush(self) -> None:
        """Until the server has every subscription (a request sent next finds them)."""
        await flushed(self._nc)

    async def stop(self) -> None:
        """Take no new commands (the partitions handed to the other processes first), finish
        those delivered or under way (their replies sent), wait for the processed-command
        records being written, and close the connection if it is ours."""
        await asyncio.gather(*(p.stop() for p in self._partitions))
        self._partitions.clear()
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await sub.drain()  # type: ignore[no-untyped-call]  # (nats-py leaves it untyped)
        self._subscriptions.clear()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for service in self._services:
            await service().drain()
        if self._owns and not self._nc.is_closed:
            await self._nc.close()


async def serve_in_process(
    nats: str | NATS,
    services: Sequence[CommandService],
    observability: ObservabilitySettings | None = None,
    *,
    max_workers: int = 32,
    user: str | None = None,
    password: str | None = None,
) -> CommandServer:
    """Serve several services' commands from this process (the embedded system, tests), with
    the subscriber the containers run; `await server.stop()` ends it.

    `nats`: a connection to serve on (best the services' stores' own: a command's record
    write and its reply then leave in one socket write), or a server URL to open one for it
    (`user`: its NATS login; the embedded system serves each service as its own user)."""
    observability = observability or ObservabilitySettings()
    if isinstance(nats, str):
        name = "commands-" + "-".join(s.context.name for s in services)
        nc = await connect(
            servers=nats.split(","),
            name=name,
            user=user,
            password=password,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=CONNECT_TIMEOUT,
            error_cb=quiet_errors(name),
        )
        server = CommandServer(nc, max_workers=max_workers, owns_connection=True)
    else:
        server = CommandServer(nats, max_workers=max_workers)
    for service in services:
        await service.start()
        await server.serve(service.context.name, _constant(service), observability)
    # The server has every subscription before the caller sends its first request.
    await server.flush()
    return server


def server_url(nc: NATS) -> str:
    """The server `nc` is connected to, for a command broker's own connection beside it."""
    at = nc.connected_url
    assert at is not None, "connect to NATS before serving commands beside it"
    return f"{at.scheme}://{at.hostname}:{at.port}"


def _constant(service: CommandService) -> Callable[[], CommandService]:
    return lambda: service
