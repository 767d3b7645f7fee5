"""Explicit wiring: which streams and projections the audit tools look at."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import nats
import nats.errors
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from contracts_schema.subjects import CONTEXTS, BoundedContext
from eventstore.clock import SystemClock
from eventstore.projection import Projection, RunnerFactory
from eventstore.settings import NatsSettings
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.trust import configured, install

DEFAULT_DATABASE = "read_models"  # the gateway's read models: --database-url / GT_DATABASE_URL
# The audit's history: GT_AUDIT_DATABASE_URL (or a running `make run`'s), else the default one.
AUDIT_DATABASE = "audit"
ENDPOINTS_FILE = "endpoints.json"  # written by a running `make run` in its data directory


class ReadModel(Protocol):
    """A read model the audit tools verify and rebuild, and the database it lives in."""

    @property
    def name(self) -> str: ...

    @property
    def database(self) -> str: ...

    def __call__(self) -> Projection: ...


# Every read model `audit verify` checks and `projections rebuild` rebuilds. Audit cannot see
# the other services, so the composition root hands the system's list in (`use`) before the
# CLI runs: `bootstrap.audit_cli`, behind both `audit` and `python -m bootstrap.audit_cli`.
PROJECTIONS: dict[str, ReadModel] = {}
# And the one way to make a projection runner (`bootstrap.parts.projection_runner`).
RUNNERS: list[RunnerFactory] = []


def use(read_models: Iterable[ReadModel], runners: RunnerFactory) -> None:
    PROJECTIONS.clear()  # in place: the CLI holds this very dict
    PROJECTIONS.update({m.name: m for m in read_models})
    RUNNERS[:] = [runners]


def runner_factory() -> RunnerFactory:
    if not RUNNERS:
        raise RuntimeError("no runner factory: run the audit CLI through bootstrap.audit_cli")
    return RUNNERS[0]


def database_variable(database: str) -> str:
    return f"GT_{database.upper()}_DATABASE_URL"


def database_url(database: str) -> str | None:
    """Where a read-model database other than the default lives: GT_<NAME>_DATABASE_URL,
    then the endpoints of a running `make run`; None when neither says."""
    url = os.environ.get(database_variable(database))
    if url:
        return url
    databases = _endpoints().get("databases", {})
    return str(databases[database]) if database in databases else None


class UnknownDatabase(ConnectionError):
    """No URL says where a read model's database is."""


def database_of(model: Callable[[], Projection]) -> str:
    """The name of the database a read model lives in (the default one unless it says)."""
    return str(getattr(model, "database", DEFAULT_DATABASE))


class Engines:
    """The live engine of each read model's database (the default one is given)."""

    def __init__(self, default: Engine) -> None:
        self._engines: dict[str, Engine] = {DEFAULT_DATABASE: default}

    def of(self, model: Callable[[], Projection]) -> Engine:
        database = database_of(model)
        engine = self._engines.get(database)
        if engine is None:
            url = database_url(database)
            if url is None and database == AUDIT_DATABASE:
                return self._engines[DEFAULT_DATABASE]  # kept beside the gateway's
            if url is None:
                raise UnknownDatabase(
                    f"no URL for the {database} database: set {database_variable(database)}"
                    " or start the system (`make run`)"
                )
            try:
                engine = self._engines[database] = make_engine(url)
            except (ArgumentError, NoSuchModuleError) as exc:
                # One line naming the setting, not a traceback (correct12).
                raise UnknownDatabase(
                    f"the {database} database's URL {url!r} ({database_variable(database)},"
                    f" else the data directory's endpoints.json) is not a database URL ({exc})"
                ) from exc
        return engine

    def dispose(self) -> None:
        """Dispose of the engines opened here (not the default one, which the caller owns)."""
        for database, engine in self._engines.items():
            if database != DEFAULT_DATABASE:
                engine.dispose()


def contexts(names: list[str] | None = None) -> list[BoundedContext]:
    if not names:
        return list(CONTEXTS.values())
    unknown = [n for n in names if n not in CONTEXTS]
    if unknown:
        raise ValueError(f"unknown context(s) {unknown}; known: {sorted(CONTEXTS)}")
    return [CONTEXTS[n] for n in names]


# The login of a running `make run` that may send commands (the auditor's may not): the
# gateway's, which sends every client's commands. `audit ocds import` records through commands.
COMMAND_SENDER = "gateway"


def resolve_settings(
    nats_url: str | None, database_url: str | None, *, sends_commands: bool = False
) -> NatsSettings:
    """A flag wins, then GT_* variables, then the endpoints of a running `make run` (logged in
    as its auditor; as the user that may send commands, with `sends_commands`)."""
    updates: dict[str, str] = {}
    embedded = _endpoints()
    if embedded:
        if "GT_NATS_URL" not in os.environ:
            updates["nats_url"] = embedded["nats_url"]
            if nats_url is None and "GT_NATS_USER" not in os.environ and "nats_user" in embedded:
                # Its auditor's login: the password is in its credentials file (mode 0600).
                user = COMMAND_SENDER if sends_commands else str(embedded["nats_user"])
                stored = json.loads(Path(embedded["nats_credentials"]).read_text())
                updates.update(nats_user=user, nats_password=stored["passwords"][user])
        if "GT_DATABASE_URL" not in os.environ:
            updates["database_url"] = embedded["database_url"]
    updates.update(
        {k: v for k, v in {"nats_url": nats_url, "database_url": database_url}.items() if v}
    )
    return NatsSettings().model_copy(update=updates)


def _endpoints_file() -> Path:
    return Path(os.environ.get("GT_DATA_DIR", "data")) / ENDPOINTS_FILE


def _endpoints() -> dict[str, Any]:
    path = _endpoints_file()
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _where(nats_url: str) -> str:
    """Where the CLI took the URL it could not reach from, for the error that says so."""
    path = _endpoints_file()
    if os.environ.get("GT_NATS_URL") == nats_url:
        return "GT_NATS_URL names it; is that server running?"
    if _endpoints().get("nats_url") == nats_url:
        return f"the running system named in {path} is not answering; is it still running?"
    if nats_url != NatsSettings.model_fields["nats_url"].default:
        return "--nats-url names it; is that server running?"
    return (
        f"no running system found: {path} does not exist (a running `make run` writes it into"
        " its data directory; point --data-dir / GT_DATA_DIR at that directory) and neither"
        " --nats-url nor GT_NATS_URL is set"
    )


async def _quiet(_exc: Exception) -> None:
    return None  # connection errors are reported once, by open_store


@asynccontextmanager
async def open_store(settings: NatsSettings) -> AsyncIterator[EventStore]:
    options: dict[str, object] = {
        "connect_timeout": 3,
        # nats-py waits forever with allow_reconnect=False or 0 attempts: one retry, then fail.
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.5,
        "error_cb": _quiet,
    }
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    try:
        async with asyncio.timeout(15):
            nc = await nats.connect(settings.nats_url.split(","), **options)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise ConnectionError(
            f"cannot reach NATS at {settings.nats_url} ({type(exc).__name__});"
            f" {_where(settings.nats_url)}"
        ) from exc
    # The CLI's readers (rebuild, OCDS export, verify's scratch rebuild) take as fact what the
    # services' readers do: the keys `audit verify` trusts (<data>/keys, GT_SIGNING_PUBLIC_KEYS).
    # Without this they checked hashes only, and applied or published an unsigned event.
    install(configured(Path(settings.data_dir)), nc)
    try:
        yield EventStore(nc, SystemClock(), replicas=settings.stream_replicas)
    finally:
        await nc.close()
