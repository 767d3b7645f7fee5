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
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS

from eventstore.clock import SystemClock
from eventstore.collector import keep_full_collections_short
from eventstore.health import HealthServer
from eventstore.nats_connect import CONNECT_TIMEOUT, quiet_errors
from eventstore.observability import configure_logging, unwatch_projection, watch_projection
from eventstore.projection import RunnerFactory
from eventstore.store import EventStore
from gateway.deadline import deadline_for
from gateway.planner import analyze_in_this_process
from gateway.process_config import GatewayConfig
from gateway.readside import ReadSide, start_read_side
from gateway.serve import Server, worker_sockets

log = logging.getLogger("gateway")
T = TypeVar("T")

EXIT_STARTUP = 1
# A listening GraphQL socket bound by the process that started this one (`make run`: it binds
# the port first, so a busy port is its one clear error, and knows the address at once).
LISTEN_FD = "GT_HTTP_LISTEN_FD"


def inherited_socket() -> socket.socket | None:
    """The socket GT_HTTP_LISTEN_FD names, if set; a value that is no open socket's number
    raises (ValueError, OSError), which the callers report as a failed start."""
    fd = os.environ.get(LISTEN_FD)
    return socket.socket(fileno=int(fd)) if fd else None


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


# One line per failed attempt, named "gateway"; nats-py's default logs a traceback for each.
_nats_error = quiet_errors("gateway")


async def connect(config: GatewayConfig) -> NATS:
    """Waits (retrying) until a server of the cluster answers: readiness stays false meanwhile."""
    return await nats.connect(
        servers=config.nats_servers,
        name="gateway",
        user=config.nats.nats_user,
        password=config.nats.nats_password,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=CONNECT_TIMEOUT,
        error_cb=_nats_error,
    )


async def run(
    config: GatewayConfig,
    stop: asyncio.Event,
    runners: RunnerFactory,
    sock: socket.socket | None = None,
    worker: int = 0,
) -> None:
    """Start everything, wait for `stop`, then stop in reverse order. `sock`: the GraphQL
    socket the supervisor bound for every worker; `worker`: this one's number (the first
    serves /healthz, /readyz and /metrics)."""
    observability = config.observability
    if worker:
        observability = observability.model_copy(update={"metrics_port": -1})
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
        # ANALYZE writes the read models' file: once, from the first worker, is enough.
        analyze_in_this_process(worker == 0)
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
        keep_full_collections_short()  # start-up frozen, and a slow full collection's survivors
        json_logs = observability.log_format == "json"
        app = side.app if config.http.http_workers <= 1 else _naming_worker(side.app, worker)
        # JSON logs: uvicorn's loggers propagate to the process's handlers (no config of theirs).
        logging_of_uvicorn: dict[str, Any] = {"log_config": None} if json_logs else {}
        server = await Server(
            app,
            config.http.http_host,
            config.http.http_port,
            **logging_of_uvicorn,
            sock=sock,
            request_deadline=deadline_for(config.gateway.max_body_bytes),
            shutdown_grace=config.http.http_shutdown_grace,
        ).start()
        started = True
        if config.http.http_workers > 1:
            log.info("gateway: GraphQL on %s/graphql (worker %s)", server.url, worker)
        else:
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


async def serve(
    config: GatewayConfig,
    runners: RunnerFactory,
    sock: socket.socket | None = None,
    worker: int = 0,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(config, stop, runners, sock, worker)


def _naming_worker(app: Any, worker: int) -> Any:
    """The ASGI app with an `x-gateway-worker: <number>` header on every HTTP answer: which
    worker of several served a request is otherwise invisible (the kernel picks)."""
    header = (b"x-gateway-worker", str(worker).encode())

    async def named(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await app(scope, receive, send_named)

    return named


def run_process(config: GatewayConfig, runners: RunnerFactory) -> int:
    """One gateway process, or with GT_HTTP_WORKERS > 1 a supervisor of that many."""
    if config.http.http_workers > 1:
        return _supervise(config, runners)
    return _run_worker(config, runners)


def _run_worker(
    config: GatewayConfig,
    runners: RunnerFactory,
    sock: socket.socket | None = None,
    worker: int = 0,
) -> int:
    configure_logging(config.observability)
    if config.observability.log_format != "json":
        logging.basicConfig(level=config.observability.log_level.upper())
    if config.http.dev_mode and not (config.gateway.jwt_secret or config.gateway.jwt_public_key):
        log.warning("gateway: GT_DEV_MODE without a JWT key: anonymous access only")
    try:
        # A bad GT_HTTP_LISTEN_FD is a failed start like a busy port: said, not a traceback.
        sock = sock or inherited_socket()
        asyncio.run(serve(config, runners, sock, worker))
    except Exception as exc:
        # Unreachable database at start, a port in use: say what, exit non-zero, let the
        # orchestrator restart us.
        log.critical("gateway: could not start: %s: %s", type(exc).__name__, exc)
        return EXIT_STARTUP
    return 0


def _supervise(config: GatewayConfig, runners: RunnerFactory) -> int:
    """GT_HTTP_WORKERS gateway processes on one GraphQL socket, bound here and inherited.

    Each worker is a whole gateway: its own NATS connection, its own followers of the
    projector's announcements (read-your-writes holds whichever worker answers), its own
    GraphQL. The first serves /healthz, /readyz and /metrics. A stop signal goes to every
    worker; a worker that exits on its own stops the others and this process exits 1, for
    the orchestrator to restart the whole (never a port served by fewer workers unseen).
    """
    configure_logging(config.observability)
    count = config.http.http_workers
    try:
        # A socket per worker on one port (see `worker_sockets`); an inherited one is shared.
        inherited = inherited_socket()
        sockets = (
            [inherited] * count
            if inherited is not None
            else worker_sockets(config.http.http_host, config.http.http_port, count)
        )
    except (OSError, ValueError) as exc:
        log.critical("gateway: could not start: %s: %s", type(exc).__name__, exc)
        return EXIT_STARTUP
    workers: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    supervisor = os.getpid()
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    for number in range(count):
        if stopping:  # a stop arrived while forking: fork no more, stop those forked
            break
        # Blocked across the fork: a signal is then handled in the parent only once the new
        # pid is in `workers`, and never by the child's inherited `forward`.
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        pid = os.fork()
        if pid == 0:  # the worker: its own loop, signals as a single gateway has them
            code = EXIT_STARTUP
            try:
                for sig in stop_signals:
                    signal.signal(sig, signal.SIG_DFL)
                _end_with_parent()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
                if os.getppid() != supervisor:  # it died before prctl: nobody would stop us
                    code = 0
                else:
                    # Only its own: a sibling's socket left open here would keep taking that
                    # sibling's share of the connections after it died, for nobody to accept.
                    for other in {id(s): s for s in sockets if s is not sockets[number]}.values():
                        other.close()
                    code = _run_worker(config, runners, sockets[number], number)
            finally:
                os._exit(code)
        workers[pid] = number
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    for sock in {id(s): s for s in sockets}.values():
        sock.close()  # the workers hold them
    failed = False
    while workers:
        pid, status = os.wait()
        if pid not in workers:
            continue
        number = workers.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or not stopping:
            failed = True
        if not stopping:
            log.error("gateway: worker %s exited with code %s; stopping the others", number, code)
            forward(signal.SIGTERM, None)
    return EXIT_STARTUP if failed else 0


def _end_with_parent() -> None:
    """SIGTERM for a worker whose supervisor died (killed): no orphan keeps the port."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
