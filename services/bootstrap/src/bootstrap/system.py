"""Explicit wiring of the whole system: the three services and the gateway.

With `logins` (`make run`) each part connects as its own NATS user of the deployment's
accounts file: registry, enrolment, notifier (each with its command subscriber and its
checkpoint writer) and the gateway (projections, read models, GraphQL). Without, every part
shares the one connection given (tests on a server without authentication).

With `projector_process` (`make run`, the freshness benchmark) the gateway's read models are
applied by a child process, `python -m bootstrap.serve projector`, as in compose: started and
stopped with the system, its announced positions followed by the gateway for read-your-writes.
A projector process that exits is started again (`projector_restarts` times within ten
minutes; by default with `service_processes`, as compose restarts a container; its read
models resume from their checkpoints), and the gateway's health says so while it is down;
once the restarts are spent the gateway projector's exit stops the run (`failure`), the audit
projector's does not: the rest serves, the health reports it. With
`settings.audit_database_url` (`make run`: its own SQLite file) the audit's history is applied
by a second projector process, `... projector --read-models audit`, into that database: on
SQLite its fold and its writes then hold neither the gateway projector's GIL nor its
database's one writer. Without a projector process, the gateway's runners apply them here
(the tests, which read `runners` directly).

With `service_processes` (`make run`, the freshness benchmark) every part runs as compose runs
it, each in a child process of its own (`bootstrap.children`): `python -m bootstrap.serve
registry`, `enrolment`, `notifier run`, `projector` and `gateway` (serving GraphQL on
`http_socket`, bound here). This process then only holds the connection given, creates the
streams, and follows the projector's positions (`read`, `runners`: no app) so that it can wait
for a token. Nothing of the command handling, GraphQL or the projections shares its loop.

Used by `python -m bootstrap` (`make run`), the benchmarks and the tests, so all of them run
the same composition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from sqlalchemy import Engine
from starlette.applications import Starlette

from bootstrap import parts
from bootstrap.children import Child
from bootstrap.nats_local import Logins
from bootstrap.parts import EnrolmentParts
from bootstrap.projector_child import RESTARTS, ProjectorProcess
from bootstrap.read_models import (
    AUDIT_DB,
    ENROLMENT_DB,
    NOTIFIER_DB,
    READ_MODELS_DB,
    embedded_databases,
)
from bootstrap.settings_catalogue import settings_read_by
from contracts_schema.subjects import CONTEXTS, ENROLMENT, NOTIFIER, REGISTRY, BoundedContext
from eventstore.checkpoints import checkpoint_periodically
from eventstore.clock import Clock, SystemClock
from eventstore.commands import CommandService
from eventstore.projection import ProjectionRunner
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.signing import EventSigner, local_seed, local_signer
from eventstore.store import EventStore
from eventstore.tasks import cancel_and_wait
from gateway.process import LISTEN_FD
from gateway.readmodels import ReadModels
from gateway.readside import AUDIT, ReadSide
from gateway.serve import listening_socket
from gateway.settings import GatewaySettings
from notifier.nats_accounts import GATEWAY_USER, OPERATOR_USER, PROJECTOR_USER
from notifier.service import Notifier
from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)


def local_secret(data: Path, name: str) -> str:
    """A per-installation secret kept under the data dir (0600), made on first use."""
    path = data / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    path.chmod(0o600)  # one made or copied with looser rights too (attack10)
    return path.read_text().strip()


async def together(*steps: Coroutine[Any, Any, object]) -> None:
    """Run `steps` at once until each is done. The first to fail ends the others (cancelled,
    and waited for) and its error is raised, no other; cancelled from outside, every step is
    cancelled and waited for first. Nothing is left running, and no step's error is left
    unretrieved (asyncio would print it as "never retrieved")."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    failed: list[BaseException] = []  # in the order the steps failed

    def note(task: asyncio.Future[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())  # type: ignore[arg-type]

    for task in tasks:
        task.add_done_callback(note)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        again = False
        while not all(task.done() for task in tasks):
            for task in tasks:
                task.cancel()  # again each round: 3.11's wait_for may swallow one (tasks.py)
            try:
                await asyncio.wait(tasks, timeout=0.05)
            except asyncio.CancelledError:  # a second cancel: the steps still end first
                again = True
        if again:
            raise asyncio.CancelledError
    if failed:
        raise failed[0]


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
    audit_projector: ProjectorProcess | None = None  # with settings.audit_database_url
    # Restarts of a projector process that exits (ten minutes' worth); None: RESTARTS with
    # `service_processes` (make run), none else (the tests' in-process layout reports it).
    projector_restarts: int | None = None
    # Each service and the gateway in a process of its own (implies `projector_process`).
    service_processes: bool = False
    http_socket: socket.socket | None = None  # the gateway process's (default: any free port)
    children: list[Child] = field(default_factory=list)
    gateway_url: str | None = None
    _stopped: bool = field(default=False, init=False)

    @property
    def databases(self) -> dict[str, str]:
        """The URL of every read-model database (the gateway's and the audit's are its
        settings': the audit's history in the gateway's database unless set apart)."""
        return embedded_databases(self.data_dir) | {
            READ_MODELS_DB: self.settings.database_url,
            AUDIT_DB: self.settings.audit_database_url or self.settings.database_url,
        }

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
            parts.trust_readers(self.data_dir, self.nc)
            return self.nc
        nc = await self.logins.connect(user)
        self.connections.append(nc)
        parts.trust_readers(self.data_dir, nc)  # its readers take only this run's keys' events
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
        if self.settings.audit_database_url:
            env["GT_AUDIT_DATABASE_URL"] = self.settings.audit_database_url
        if self.logins is not None:
            env["GT_NATS_USER"] = PROJECTOR_USER
            env["GT_NATS_PASSWORD"] = self.logins.password(PROJECTOR_USER)
        # Its readers trust what every other part's do: without the keys it would apply an
        # event no service signed (and say only "readers do not check signatures").
        env.update(parts.public_keys_setting(parts.readers_trust(self.data_dir)))
        return env

    async def _start_projectors(self) -> None:
        """The projector process; and, with the audit's history in a database of its own, the
        audit's projector beside it."""
        env = self._projector_environment()
        restarts = self.projector_restarts
        if restarts is None:
            restarts = RESTARTS if self.service_processes else 0
        if self.settings.audit_database_url:
            self.projector = await ProjectorProcess.start_projector(env, "gateway", restarts)
            self.audit_projector = await ProjectorProcess.start_projector(env, "audit", restarts)
        else:
            self.projector = await ProjectorProcess.start_projector(env, "all", restarts)

    async def _projectors_serving(self, runners: list[ProjectionRunner]) -> None:
        """Wait until each projector process was heard by the followers of its read models."""
        if self.audit_projector is None:
            assert self.projector is not None
            await self.projector.serving(runners)
            return
        assert self.projector is not None
        audit = [r for r in runners if type(r.projection) in AUDIT]
        await self.projector.serving([r for r in runners if r not in audit])
        await self.audit_projector.serving(audit)

    async def _stop_projectors(self) -> None:
        for projector in (self.projector, self.audit_projector):
            if projector is not None:
                await projector.stop()

    # Each part in a process of its own (`service_processes`).

    def _child_settings(self, command: str, user: str, **extra: str) -> dict[str, str]:
        """What `python -m bootstrap.serve <command>` reads of this process's GT_* settings,
        then its login and `extra` (GT_<NAME>=value)."""
        read = settings_read_by(command)
        env = {k: v for k, v in os.environ.items() if k in read}
        env["GT_NATS_URL"] = self.logins.url if self.logins else server_url(self.nc)
        env.pop("GT_NATS_USER", None)
        env.pop("GT_NATS_PASSWORD", None)
        if self.logins is not None:
            env["GT_NATS_USER"] = user
            env["GT_NATS_PASSWORD"] = self.logins.password(user)
        env["GT_METRICS_PORT"] = "-1"  # one process's ports: GraphQL (and its /healthz)
        env.update(parts.public_keys_setting(parts.readers_trust(self.data_dir)))
        env.update({f"GT_{name.upper()}": value for name, value in extra.items()})
        return env

    async def _serving_commands(self, context: BoundedContext) -> bool:
        """True once a service process answers on `context`'s command subjects (a malformed
        request: refused, nothing stored)."""
        await self.nc.request(context.command_subject("Ready"), b"{}", timeout=1.0)
        return True

    async def _spawn_service(
        self, context: BoundedContext, command: list[str], **extra: str
    ) -> Child:
        """A service's process, started (not yet ready: `_service_ready`)."""
        seed = local_seed(self.data_dir, context.name)
        child = await Child.start(
            context.name,
            command,
            self._child_settings(
                command[0],
                context.name,
                signing_seed=seed,
                checkpoint_interval=str(self.checkpoint_interval),
                **extra,
            ),
        )
        self.children.append(child)
        return child

    async def _service_ready(self, child: Child, context: BoundedContext) -> None:
        await child.ready(lambda: self._serving_commands(context))

    async def _service_process(
        self, context: BoundedContext, command: list[str], **extra: str
    ) -> None:
        child = await self._spawn_service(context, command, **extra)
        await self._service_ready(child, context)

    async def start_notifier(self) -> None:
        """The notifier's process (`service_processes`), once: `make run` starts it after the
        demo history is in, so that its start-up run of the schedule warns of it at once."""
        if not self.with_notifier or any(c.name == NOTIFIER.name for c in self.children):
            return
        await self._service_process(
            NOTIFIER,
            ["notifier", "run"],
            database_url=self.databases[NOTIFIER_DB],
            webhook_master_key=os.environ.get("GT_WEBHOOK_MASTER_KEY")
            or local_secret(self.data_dir, "webhook-master-key"),
        )

    async def after_load(self) -> None:
        """A bulk load is in: run the expiry schedule now, not at its next interval."""
        if self.service_processes:
            await self.start_notifier()
        elif self.notifier is not None:
            self.notifier.wake()

    def _gateway_settings(self) -> dict[str, str]:
        """This system's GatewaySettings as the gateway process reads them."""
        values = self.settings.model_dump(mode="json", exclude_none=True)
        return {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in values.items()
        }

    async def _spawn_gateway(self) -> Callable[[], Coroutine[Any, Any, None]]:
        """The gateway's process, started; what waits until it answers /healthz."""
        sock = self.http_socket or listening_socket()
        self.http_socket = sock
        host, port = sock.getsockname()[:2]
        url = f"http://{host}:{port}"
        settings = self._child_settings(
            "gateway", GATEWAY_USER, **self._gateway_settings(), http_host=host, http_port=str(port)
        )
        # One socket handed to one process: a supervisor of GT_HTTP_WORKERS would fork
        # workers the run does not know of (nor stop, nor report).
        workers = settings.pop("GT_HTTP_WORKERS", None)
        if workers is not None and workers.strip() != "1":
            log.warning(
                "GT_HTTP_WORKERS=%s is not used by make run: it serves GraphQL with one"
                " gateway process",
                workers,
            )
        settings[LISTEN_FD] = str(sock.fileno())
        child = await Child.start("gateway", ["gateway"], settings, pass_fds=[sock.fileno()])
        self.children.append(child)

        async def answering() -> bool:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return (await http.get(f"{url}/healthz")).status_code == 200

        async def ready() -> None:
            await child.ready(answering)
            self.gateway_url = url

        return ready

    async def _start_processes(self) -> None:
        # The streams, as an operator creates them before the services start.
        creator = await self.logins.connect(OPERATOR_USER) if self.logins else self.nc
        try:
            store = EventStore(creator, self.clock, protect=self.protect_streams)
            for context in CONTEXTS.values():
                await store.ensure_stream(context)
        finally:
            if creator is not self.nc:
                await creator.close()
        # None of the next parts waits for another: each service serves its own commands
        # (enrolment learns the registry's facts from its stream, whenever they come), the
        # projectors read the streams, and a follower (the gateway's, this process's) reads
        # before any projector has made its tables and waits for its word. So all are
        # started at once, each importing on its own, and then each is waited for as before:
        # a service until it answers on its commands, the projectors until every follower
        # here heard them, the gateway until it answers /healthz. The first that fails (its
        # process exited, or was not ready in time) is the error; the others' waits end and
        # `start` stops every part. Started one after another, each start waited for the
        # imports of the one before (~40 s of wall at load 11, suite16).
        registry = await self._spawn_service(REGISTRY, ["registry"])
        enrolment = await self._spawn_service(
            ENROLMENT, ["enrolment"], enrolment_database_url=self.databases[ENROLMENT_DB]
        )
        await self._start_projectors()
        gateway_ready = await self._spawn_gateway()
        await together(
            self._service_ready(registry, REGISTRY),
            self._service_ready(enrolment, ENROLMENT),
            self._follow_projectors(),
            gateway_ready(),
        )

    async def _follow_projectors(self) -> None:
        """Here only the positions the projectors announce, to wait for a token; until every
        follower heard its projector."""
        gateway = await self._login(GATEWAY_USER)
        self.read_side = await parts.read_side(
            gateway,
            self.settings,
            EventStore(gateway, self.clock, protect=self.protect_streams),
            follow=True,
            serve=False,
        )
        self.runners, self.read = self.read_side.runners, self.read_side.read
        await self._projectors_serving(self.runners)

    async def failure(self) -> str:
        """Wait until a child process exits without being stopped (a projector: and is not
        started again); which, and its code. Not the audit projector: nothing but
        `entitiesAsOf` waits for it; the rest keeps serving, the gateway's health reports it."""
        waits = [asyncio.ensure_future(c.unexpected_exit()) for c in self.children]
        if self.projector is not None:
            waits.append(asyncio.ensure_future(self.projector.unexpected_exit()))
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        finally:
            for task in waits:
                await cancel_and_wait(task)

    async def start(self) -> System:
        if self.service_processes:
            try:
                await self._start_processes()
            except BaseException:
                await self.stop()  # no child outlives a failed start
                raise
            return self
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
            await self._start_projectors()
        try:
            gateway = await self._login(GATEWAY_USER)
            self.read_side = await parts.read_side(
                gateway,
                self.settings,
                EventStore(gateway, self.clock, protect=self.protect_streams),
                follow=self.projector is not None,
            )
            if self.projector is not None:
                await self._projectors_serving(self.read_side.runners)
        except BaseException:
            await self._stop_projectors()  # no child outlives a failed start
            raise
        self.engine, self.runners = self.read_side.engine, self.read_side.runners
        self.read, self.app = self.read_side.read, self.read_side.app
        return self

    async def stop(self) -> None:
        if self._stopped:  # a failed start stopped it; its owner stops it again
            return
        self._stopped = True
        # The gateway first (no new requests; those under way get their replies), then the
        # services (each drains its commands), then the projector.
        for child in [c for c in self.children if c.name == "gateway"]:
            await child.stop()
        for child in reversed(self.children):
            await child.stop()
        for task in self.anchoring:
            await cancel_and_wait(task)
        for broker in self.brokers:
            await broker.stop()
        if self.read_side is not None:
            await self.read_side.stop()
        await self._stop_projectors()
        if self.notifier is not None:
            await self.notifier.stop()
        if self.enrolment is not None:
            await self.enrolment.stop()
        for nc in self.connections:
            await nc.close()
        if self.http_socket is not None:
            self.http_socket.close()  # the gateway process had its own copy
