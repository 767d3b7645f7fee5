"""`python -m bootstrap.serve gateway`: the gateway as its own process in the distributed topology.

Connects to the NATS cluster, serves GraphQL on GT_HTTP_HOST:GT_HTTP_PORT over the read models
in GT_READ_DATABASE_URL (else GT_DATABASE_URL) and /healthz, /readyz, /metrics on
GT_METRICS_HOST:GT_METRICS_PORT. It only reads: the projector process
(`python -m bootstrap.serve projector`) applies the read models and announces its positions,
which read-your-writes waits on. Ready once NATS is connected and the read side started.
SIGTERM or SIGINT stops it cleanly (exit 0); a failed start exits 1. `bootstrap.serve` checks
the configuration first (exit 2 naming each bad variable).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from typing import TypeVar

import nats
from nats.aio.client import Client as NATS

from eventstore.clock import SystemClock
from eventstore.health import HealthServer
from eventstore.observability import configure_logging, unwatch_projection, watch_projection
from eventstore.projection import RunnerFactory
from eventstore.store import EventStore
from gateway.process_config import GatewayConfig
from gateway.readside import ReadSide, start_read_side
from gateway.serve import Server

log = logging.getLogger("gateway")
T = TypeVar("T")

EXIT_STARTUP = 1


class Stopped(Exception):
    """A stop signal arrived while the gateway was still starting."""


async def unless_stopped(step: Awaitable[T], stop: asyncio.Event) -> T:
    task = asyncio.ensure_future(step)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Stopped
    return task.result()


async def _nats_error(exc: Exception) -> None:
    # One line per failed attempt; nats-py's default logs a traceback for each retry.
    log.warning("gateway: NATS: %s: %s", type(exc).__name__, exc)


async def connect(config: GatewayConfig) -> NATS:
    """Waits (retrying) until a server of the cluster answers: readiness stays false meanwhile."""
    return await nats.connect(
        servers=config.nats_servers,
        name="gateway",
        user=config.nats.nats_user,
        password=config.nats.nats_password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=_nats_error,
    )


async def run(config: GatewayConfig, stop: asyncio.Event, runners: RunnerFactory) -> None:
    """Start everything, wait for `stop`, then stop in reverse order."""
    observability = config.observability
    health = HealthServer(observability.metrics_host, max(observability.metrics_port, 0))
    nc: NATS | None = None
    side: ReadSide | None = None
    server: Server | None = None
    started = False
    health.add_readiness("nats", lambda: nc is not None and nc.is_connected)
    health.add_readiness("projections", lambda: started)
    try:
        if observability.metrics_port >= 0:
            await health.start()
            log.info("gateway: /healthz, /readyz and /metrics on port %s", health.port)
        nc = await unless_stopped(connect(config), stop)
        side = await unless_stopped(
            start_read_side(
                nc,
                config.gateway,
                EventStore(nc, SystemClock(), replicas=config.nats.stream_replicas),
                runners,
                read_database_url=config.http.read_database_url,
                follow=True,
            ),
            stop,
        )
        for runner in side.runners:  # the lag the gateway sees: the projector's, announced
            watch_projection(nc, runner)
        assert side.app is not None
        from gateway.app import freeze_startup_objects  # as readside: imported once built

        freeze_startup_objects()
        json_logs = observability.log_format == "json"
        server = await Server(
            side.app,
            config.http.http_host,
            config.http.http_port,
            **({"log_config": None} if json_logs else {}),
        ).start()
        started = True
        log.info("gateway: GraphQL on %s/graphql", server.url)
        await stop.wait()
        log.info("gateway: stopping")
    except Stopped:
        log.info("gateway: stopped while starting")
    finally:
        started = False
        if server is not None:
            await server.stop()
        if side is not None:
            for runner in side.runners:
                unwatch_projection(runner)
            await side.stop()
        if nc is not None:
            await nc.close()
        await health.stop()


async def serve(config: GatewayConfig, runners: RunnerFactory) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(config, stop, runners)


def run_process(config: GatewayConfig, runners: RunnerFactory) -> int:
    configure_logging(config.observability)
    if config.observability.log_format != "json":
        logging.basicConfig(level=config.observability.log_level.upper())
    if config.http.dev_mode and not (config.gateway.jwt_secret or config.gateway.jwt_public_key):
        log.warning("gateway: GT_DEV_MODE without a JWT key: anonymous access only")
    try:
        asyncio.run(serve(config, runners))
    except Exception as exc:
        # Unreachable database at start, a port in use: say what, exit non-zero, let the
        # orchestrator restart us.
        log.critical("gateway: could not start: %s: %s", type(exc).__name__, exc)
        return EXIT_STARTUP
    return 0
