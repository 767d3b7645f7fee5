"""`make run` (`python -m bootstrap`): the whole system in one process, with demo data and GraphiQL.

A nats-server from the wheel (store under ./data/jetstream) with the deployment's NATS users
and generated local passwords (./data/nats-credentials.json, `bootstrap.nats_local`) and the
auth callout for organisations, SQLite files under ./data, the registry, enrolment and
notifier services, the notifier's expiry schedule (at start, after the demo loads, then
hourly), the gateway on http://127.0.0.1:8000/graphql and, as in compose, the gateway's
projections in a child process (`python -m bootstrap.serve projector`, started and stopped
with the rest), each part logged in to NATS as its own user. Ctrl-C stops everything; the
next run resumes from ./data.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import nkeys
from nats.aio.client import Client as NATS
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from audit.wiring import ENDPOINTS_FILE
from bootstrap import reference_data
from bootstrap.children import ChildFailed, kill_every_child
from bootstrap.demo import DemoLoad, load_demo
from bootstrap.nats_local import (
    JETSTREAM_DIR,
    LocalCredentials,
    Logins,
    adopt_unauthenticated_store,
    credentials_path,
    local_credentials,
    remembered_port,
    server_config,
)
from bootstrap.read_models import AUDIT_DB, READ_MODELS_DB, embedded_databases
from bootstrap.system import System
from eventstore.collector import keep_full_collections_short
from eventstore.nats_launcher import NatsServer
from eventstore.settings import setting_problems
from eventstore.tasks import cancel_and_wait
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.process_config import HttpSettings
from gateway.serve import Server, listening_socket
from gateway.settings import GatewaySettings
from notifier import nats_auth
from notifier.nats_accounts import AUDIT_USER, CALLOUT_USER, GATEWAY_USER, OPERATOR_USER

NATS_PORT = 4222
T = TypeVar("T")


class RunSettings(BaseSettings):
    """What `make run` alone reads (its other settings are the parts' own)."""

    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    demo: bool = Field(
        default=True,
        description="Load the demo history at start; false: the reference data only (the"
        " tests of starting and stopping, an empty registry to fill oneself).",
    )


def dev_secret(data: Path) -> str:
    """A per-installation HS256 secret, kept under ./data so that tokens survive restarts."""
    path = data / "dev-jwt-secret"
    if not path.exists():
        path.touch(mode=0o600)  # never readable by others, not even before the chmod
        path.write_text(secrets.token_urlsafe(48))
    path.chmod(0o600)  # one made or copied with looser rights too (attack10)
    return path.read_text().strip()


async def admit_local_organisations(operator: NATS, credentials: LocalCredentials) -> None:
    """Store the local organisations' secrets (hashes) where the auth callout looks them up."""
    for code, secret in credentials.organisations.items():
        await nats_auth.grant(operator, code, secret)


class Served(Protocol):
    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class GatewayProcess:
    """Where the gateway's own process serves."""

    url: str


@contextlib.asynccontextmanager
async def embedded(
    data: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    nats_port: int | None = None,
    *,
    schedule: bool = False,
    projector_process: bool = True,
    processes: bool = False,
) -> AsyncIterator[tuple[System, Served]]:
    """The system on `host:port`; with `processes` (`make run`) each service and the gateway
    in a process of its own, else in this one."""
    await asyncio.to_thread(data.mkdir, parents=True, exist_ok=True)
    # The GraphQL port first: a busy one is the one error, before anything starts.
    sock = listening_socket(host, port) if processes else None
    # The deployment's accounts file, with this data directory's generated passwords.
    credentials = local_credentials(data)
    if adopt_unauthenticated_store(data):
        print(f"NATS streams of an earlier `make run` in {data} moved to its account GT")
    if nats_port is None and processes:  # `make run`: the same NATS URL on every start
        nats_port = remembered_port(data)
    broker = NatsServer(
        data / JETSTREAM_DIR,
        config_file=server_config(data),
        port=nats_port,
        env=credentials.server_environment(),
    ).start()
    logins = Logins(broker.url, credentials)
    connections: list[NATS] = []
    system: System | None = None
    server: Server | None = None
    served: Served
    try:
        # Organisations log in through the auth callout, in-process here (a service in a
        # deployment); the operator stores the local organisations' secrets first.
        operator = await logins.connect(OPERATOR_USER)
        try:
            await admit_local_organisations(operator, credentials)
        finally:
            await operator.close()  # no part of the running system holds the operator's login
        callout = await logins.connect(CALLOUT_USER)
        connections.append(callout)
        await nats_auth.serve(callout, nkeys.from_seed(credentials.callout_seed.encode()))
        # `system.nc` drives the system from outside as the reference-data job does: with the
        # gateway's user (it may send every command and read every event stream).
        nc = await logins.connect(GATEWAY_USER)
        connections.append(nc)
        databases = embedded_databases(data)
        settings = GatewaySettings(
            database_url=databases[READ_MODELS_DB],
            # The audit's history in a file of its own: its own SQLite writer (and projector).
            audit_database_url=databases[AUDIT_DB],
            identity_database_url=f"sqlite:///{data / 'identities.db'}",  # docs/privacy.md
            jwt_secret=dev_secret(data),
            # `make run` is for exploring: GraphiQL, introspection and suggestions on.
            graphiql=True,
            introspection=True,
            suggestions=True,
        )
        system = System(
            nc,
            data,
            settings,
            schedule=schedule,
            logins=logins,
            projector_process=projector_process,
            service_processes=processes,
            http_socket=sock,
        )
        await system.start()
        if processes:
            assert system.gateway_url is not None
            served = GatewayProcess(system.gateway_url)
        else:
            assert system.app is not None
            server = served = await Server(system.app, host, port).start()
        # Tell local tools (the audit CLI) where this embedded system listens, which NATS user
        # they log in as (its password is in the credentials file) and where every read
        # model's database is.
        endpoints = {
            "nats_url": broker.url,
            "nats_user": AUDIT_USER,
            "nats_credentials": str(credentials_path(data)),
            "database_url": settings.database_url,
            "databases": system.databases,
        }
        (data / ENDPOINTS_FILE).write_text(json.dumps(endpoints))
        yield system, served
    finally:
        (data / ENDPOINTS_FILE).unlink(missing_ok=True)
        if server is not None:
            await server.stop()
        if system is not None:
            await system.stop()
        for connection in reversed(connections):
            await connection.close()
        broker.stop()
        if sock is not None:
            sock.close()


async def with_demo(system: System, say: Callable[[str], object] = print) -> DemoLoad:
    """Load the demo history, wait until the read models show it, run the expiry schedule."""
    demo = await load_demo(CommandBus(system.nc), say=say)
    say(demo_summary(demo))
    assert system.read is not None
    await system.read.wait_for(demo.consistency_token, timeout=60)
    await system.after_load()  # the demo's expiring contract is warned of now, not in an hour
    return demo


def demo_summary(demo: DemoLoad) -> str:
    """What the load did. A command answered as already stored is either from an earlier run
    of this data directory or the bus's own resend whose first try landed but answered late
    (a loaded machine): either way nothing was lost or applied twice, so say both."""
    said = f"demo history: {demo.new} commands applied"
    if demo.known:
        said += (
            f", {demo.known} already stored (by an earlier run, or a resend after a slow"
            " reply: nothing applied twice)"
        )
    return said


def consumer_command(url: str, code: str, secret: str) -> str:
    """The example consumer's command line, with this interpreter (the synced environment's,
    which has nats-py): a fresh machine's `python` has no nats-py, or is not there at all."""
    here = Path(sys.executable)
    try:
        python = str(here.relative_to(Path.cwd()))
    except ValueError:
        python = str(here)
    return f"{python} examples/municipal_consumer.py --url {url} --org {code} --password {secret}"


class Hurried(RuntimeError):
    """A second Ctrl-C or SIGTERM while stopping: every part was killed, none drained."""


async def main(data: Path, port: int, host: str = "127.0.0.1", *, demo: bool = True) -> None:
    """Run until Ctrl-C or SIGTERM: once started, `serve` stops everything in order; one that
    comes while starting cancels the start, which stops what it had started. Another one while
    stopping (each part may take `STOP_TIMEOUT` to drain) kills every part at once and ends
    the run with `Hurried`."""
    stop = asyncio.Event()
    hurried = False

    def interrupted() -> None:
        nonlocal hurried
        if stop.is_set():  # already stopping: no more waiting for drains
            hurried = True
            kill_every_child()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)
    started = asyncio.Event()
    body = asyncio.ensure_future(serve(data, port, host, stop, started, demo=demo))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([body, stopping], return_when=asyncio.FIRST_COMPLETED)
    if not body.done() and not started.is_set():
        print("stopping while starting ...")
        body.cancel()
    await asyncio.gather(body, return_exceptions=True)
    stopping.cancel()
    if hurried:  # whatever the stop ran into, the kill is the news
        raise Hurried("a second interrupt while stopping: every part killed, none drained")
    if not body.cancelled():
        body.result()


async def unless_a_part_fails(system: System, step: Coroutine[Any, Any, T]) -> T:
    """`step`, unless a part's process exits meanwhile: then which part and its code, not the
    step's NATS timeout (a command nobody answers any more)."""
    work = asyncio.create_task(step)
    failed = asyncio.create_task(system.failure())
    try:
        await asyncio.wait([work, failed], return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # a stop while starting: the step stops with us, as if awaited
        await cancel_and_wait(work)
        await cancel_and_wait(failed)
        raise
    if failed.done():
        if not work.done():
            await cancel_and_wait(work)
        elif not work.cancelled():
            work.exception()  # retrieved, not reported: the part's exit is the news
        raise ChildFailed(f"{failed.result()}; the others stopped")
    await cancel_and_wait(failed)
    return work.result()


async def serve(
    data: Path,
    port: int,
    host: str,
    stop: asyncio.Event,
    started: asyncio.Event,
    *,
    demo: bool = True,
) -> None:
    running = embedded(data, host=host, port=port, schedule=True, processes=True)
    async with running as (system, server):
        # The reference data first, by the same code as the deployment's one-shot job.
        bus = CommandBus(system.nc)
        reference = await unless_a_part_fails(system, reference_data.load(bus))
        print(f"reference data: {len(reference.events)} municipalities registered")
        if demo:
            await unless_a_part_fails(system, with_demo(system))
        else:
            print("demo history: not loaded (GT_DEMO is off)")
            await unless_a_part_fails(system, system.after_load())  # the notifier, as after one
        keep_full_collections_short()  # one process for long: no full collection of it all
        print(f"GraphiQL: {server.url}/graphql   (data in {data})")
        print("dev tokens (send as 'Authorization: Bearer <token>'):")
        for role, org in (
            (Role.COORDINATOR, None),
            (Role.AUDITOR, None),
            (Role.PARTICIPANT, "GM0363"),
        ):
            label = f"{role.value}{' ' + org if org else ''}"
            token = issue_token(system.settings, role, f"dev-{role.value}", organisation=org)
            print(f"  {label:22} {token}")
        print("  anonymous              (no header)")
        assert system.logins is not None
        for code, secret in system.logins.credentials.organisations.items():
            print(f"{code}'s integration feed over NATS (docs/municipal-consumer.md):")
            print(f"  {consumer_command(system.logins.url, code, secret)}")
        print(f"NATS users' local passwords: {credentials_path(data)}")
        print("Ctrl-C stops.")
        started.set()
        stopped = asyncio.ensure_future(stop.wait())
        failed = asyncio.ensure_future(system.failure())
        await asyncio.wait([stopped, failed], return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, failed):
            if not task.done():
                task.cancel()
        print("stopping ...")
        stop.set()  # a part failed: a signal now hurries the stop, as a second one does
        if failed.done() and not failed.cancelled():
            raise ChildFailed(f"{failed.result()}; the others stopped")


def settings_problems(exc: ValidationError) -> str:
    """pydantic's report as one line per variable: `GT_HTTP_PORT: ... (got 'x')`."""
    return "; ".join(setting_problems(exc))


def _gt_port(default: int) -> int:
    """GT_PORT (an older name of GT_HTTP_PORT) when set; a bad one is named, exit."""
    if "GT_PORT" not in os.environ:
        return default
    try:
        return int(os.environ["GT_PORT"])
    except ValueError as exc:
        sys.exit(f"error: bad setting: GT_PORT: {exc}")


def run() -> None:
    """Start, or say in one line why not (a busy port, a bad setting): no traceback."""
    try:
        http = HttpSettings()
        port = _gt_port(http.http_port)
        GatewaySettings()  # checked here, before anything starts
        demo = RunSettings().demo
        data = Path(os.environ.get("GT_DATA_DIR", "data")).resolve()
        asyncio.run(main(data, port, http.http_host, demo=demo))
    except ValidationError as exc:
        sys.exit(f"error: bad setting: {settings_problems(exc)}")
    except (ChildFailed, Hurried) as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:  # a Ctrl-C while starting: everything started is stopped
        sys.exit("stopped while starting")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            sys.exit(
                f"error: a port is already in use ({exc.strerror}): is another `make run`"
                " running? Stop it, or set GT_HTTP_PORT (GraphQL, default 8000)"
            )
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    run()
