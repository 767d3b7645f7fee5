"""`python -m bootstrap.serve projector`: the gateway's read models applied in their own process.

Connects to NATS, runs a runner of every read model the gateway reads into GT_DATABASE_URL
(durable consumers: woken by new events, not by a timer) and announces each commit's
positions on NATS core (`eventstore.projection_news`), on which the gateway's read-your-writes
waits. The audit's history goes into GT_AUDIT_DATABASE_URL when set. `--read-models gateway`
applies only the gateway's own read models (those a read-your-writes waits for), `--read-models
audit` only the audit's history: `make run` runs one of each, the audit's in a SQLite file of
its own, so that its fold (~3 ms of CPU per event) takes neither the CPU nor the one SQLite
writer from theirs. /healthz, /readyz and /metrics (lag, parked events) on
GT_METRICS_HOST:GT_METRICS_PORT; ready once NATS is connected and every runner started.
Replicas elect one leader per projection on PostgreSQL (`eventstore.projection_leader`); the
others stand by and take over.
SIGTERM or SIGINT stops it cleanly (exit 0), also while it is still starting (waiting for
NATS, catching up); a stop that has not ended STOP_GRACE seconds after the signal ends the
process (exit 3); a failed start exits 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS

from bootstrap.projector_child import audit_niceness
from bootstrap.runners import gateway_projections
from eventstore.collector import keep_full_collections_short
from eventstore.health import HealthServer
from eventstore.nats_connect import CONNECT_TIMEOUT, quiet_errors
from eventstore.observability import (
    configure_logging,
    configure_tracing,
    unwatch_projection,
    watch_projection,
)
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from gateway.process_config import ProjectorConfig

log = logging.getLogger("projector")

EXIT_STARTUP = 1
EXIT_STOP_TIMEOUT = 3
# Seconds an asked stop may take (runners' last batches, closing NATS) before the process ends
# anyway: a projector waiting on a NATS that went away with the system that started it (make
# run killed) must not outlive it, nor hold a container's stop until its kill.
STOP_GRACE = 30.0
T = TypeVar("T")


class _Stopped(Exception):
    """A stop was asked while the projector was still starting."""


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T:
    """`work`'s result; cancelled, raising _Stopped, if `stop` is set first (a start waiting
    for NATS retries for ever: the signal must end it, not wait for it)."""
    task = asyncio.ensure_future(work)
    asked = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, asked}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        asked.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise _Stopped


# One line per failed attempt, named "projector"; nats-py's default logs a traceback for each.
_nats_error = quiet_errors("projector")


async def connect(config: ProjectorConfig) -> NATS:
    """Waits (retrying) until a server of the cluster answers: readiness stays false meanwhile."""
    return await nats.connect(
        servers=config.nats_servers,
        name="projector",
        user=config.nats.nats_user,
        password=config.nats.nats_password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=CONNECT_TIMEOUT,
        error_cb=_nats_error,
    )


async def run(config: ProjectorConfig, stop: asyncio.Event, read_models: str = "all") -> None:
    """Start every runner (of `read_models`), wait for `stop`, then stop in reverse order."""
    observability = config.observability
    health = HealthServer(observability.metrics_host, max(observability.metrics_port, 0))
    nc: NATS | None = None
    runners: list[ProjectionRunner] = []
    started = False
    health.add_readiness("nats", lambda: nc is not None and nc.is_connected)
    health.add_readiness("projections", lambda: started)
    engine = make_engine(config.database_url)
    audit_engine = make_engine(config.audit_database_url) if config.audit_database_url else None
    try:
        if observability.metrics_port >= 0:
            await health.start()
            log.info("projector: /healthz, /readyz and /metrics on port %s", health.port)
        nc = await _unless_stopped(connect(config), stop)
        # Before the runners start: start-up's objects out of the collector's sight; the
        # catch-up's when it ends (eventstore.collector), so no full collection walks them.
        keep_full_collections_short()
        runners = await _unless_stopped(
            gateway_projections(nc, engine, read_models, audit_engine), stop
        )
        for runner in runners:
            watch_projection(nc, runner)
        started = True
        log.info("projector: %s read models running", len(runners))
        await stop.wait()
        log.info("projector: stopping")
    except _Stopped:
        log.info("projector: stopping while starting")
    finally:
        started = False
        for runner in runners:
            unwatch_projection(runner)
            await runner.stop()
        engine.dispose()
        if audit_engine is not None:
            audit_engine.dispose()
        if nc is not None:
            await nc.close()
        await health.stop()


async def serve(config: ProjectorConfig, read_models: str = "all") -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def asked() -> None:
        if not stop.is_set():
            # A thread, not the loop: it fires even if the loop is stuck in the stop itself.
            watchdog = threading.Timer(STOP_GRACE, _stop_overdue)
            watchdog.daemon = True
            watchdog.start()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, asked)
    await run(config, stop, read_models)


def _stop_overdue() -> None:
    log.error("projector: not stopped %s s after the signal; exiting", STOP_GRACE)
    logging.shutdown()
    os._exit(EXIT_STOP_TIMEOUT)


def lower_priority(read_models: str, environ: dict[str, str] | None = None) -> int:
    """The audit's projector (`--read-models audit`) made nicer by GT_AUDIT_PROJECTOR_NICENESS
    (`projector_child.AUDIT_NICENESS`); the others as they are. Called before any thread
    starts: on Linux a niceness is a thread's, and the threads started after it inherit it
    (the runner's, the loop's executor). Returns the niceness added."""
    if read_models != "audit":
        return 0
    added = audit_niceness(environ)
    if added:
        os.nice(added)
    return added


def run_process(config: ProjectorConfig, read_models: str = "all") -> int:
    try:
        lower_priority(read_models)
    except ValueError as exc:
        log.critical("projector: %s", exc)
        return EXIT_STARTUP
    configure_logging(config.observability)
    configure_tracing(config.observability, "projector")
    if config.observability.log_format != "json":
        logging.basicConfig(level=config.observability.log_level.upper())
    try:
        asyncio.run(serve(config, read_models))
    except Exception as exc:
        # An unreachable database at start: say what, exit non-zero, let the orchestrator
        # (or `make run`) restart or report us.
        log.critical("projector: could not start: %s: %s", type(exc).__name__, exc)
        return EXIT_STARTUP
    return 0
