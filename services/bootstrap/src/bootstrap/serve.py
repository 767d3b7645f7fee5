"""`python -m bootstrap.serve <service>`: each container's command, through the composition root.

    python -m bootstrap.serve registry
    python -m bootstrap.serve enrolment
    python -m bootstrap.serve notifier run | tick --now DAY | webhook-secret ID
    python -m bootstrap.serve projector [--read-models gateway | audit | all]
    python -m bootstrap.serve gateway
    python -m bootstrap.serve reference-data load | update --csv FILE --version V ...
    python -m bootstrap.serve backup create --out DIR | restore DIR

Configuration from GT_* variables only. The command services are FastStream apps
(`eventstore.service_app`), their CommandServices and runners made by `bootstrap.parts`.
The heavy modules are imported inside each command: a mistyped argument or a bad
configuration is answered at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

from audit.cli_options import SingleValuedCommand, SingleValuedGroup

if TYPE_CHECKING:
    from faststream import FastStream
    from faststream.nats import NatsBroker
    from nats.aio.client import Client as NATS

    from bootstrap.reference_data import MunicipalityList
    from enrolment.app import EnrolmentSettings
    from eventstore.clock import Clock
    from eventstore.observability import ObservabilitySettings
    from eventstore.settings import NatsSettings
    from gateway.commandbus import CommandBus
    from notifier.settings import NotifierSettings

EXIT_CONFIG = 2

cli = typer.Typer(
    help="Run one service of the system, as its container does.",
    add_completion=False,
    cls=SingleValuedGroup,
)
notifier_cli = typer.Typer(
    help="The notifier: expiry warnings and integration events.",
    add_completion=False,
    cls=SingleValuedGroup,
)
cli.add_typer(notifier_cli, name="notifier")
reference_cli = typer.Typer(
    help="Reference data (the CBS municipality list) through the commands.",
    add_completion=False,
    cls=SingleValuedGroup,
)
cli.add_typer(reference_cli, name="reference-data")


def _add_backup() -> None:
    from bootstrap.backup_cli import backup_cli

    cli.add_typer(backup_cli, name="backup")


_add_backup()


# The FastStream apps, also started by the tests exactly as the containers start them.


def registry_app(
    settings: NatsSettings | None = None,
    clock: Clock | None = None,
    observability: ObservabilitySettings | None = None,
) -> tuple[FastStream, NatsBroker]:

    from bootstrap.parts import registry_service
    from contracts_schema.subjects import REGISTRY
    from eventstore.commands import CommandService
    from eventstore.service_app import build_service_app
    from eventstore.store import EventStore

    async def factory(store: EventStore, _nc: NATS, service_clock: Clock) -> CommandService:
        return registry_service(store, service_clock)

    return build_service_app(REGISTRY.name, factory, settings, clock, observability)


def enrolment_app(
    settings: EnrolmentSettings | None = None,
    clock: Clock | None = None,
    observability: ObservabilitySettings | None = None,
) -> tuple[FastStream, NatsBroker]:

    from bootstrap.parts import EnrolmentParts, enrolment
    from contracts_schema.subjects import ENROLMENT
    from enrolment.app import EnrolmentSettings
    from eventstore.commands import CommandService
    from eventstore.service_app import build_service_app
    from eventstore.store import EventStore

    settings = settings or EnrolmentSettings()
    database_url = settings.enrolment_database_url
    running: list[EnrolmentParts] = []

    async def factory(store: EventStore, nc: NATS, service_clock: Clock) -> CommandService:
        parts = await enrolment(store, nc, service_clock, database_url)
        running.append(parts)
        return parts.service

    app, broker = build_service_app(ENROLMENT.name, factory, settings, clock, observability)

    @app.on_shutdown
    async def stop_projection() -> None:
        for parts in running:
            await parts.stop()
        running.clear()

    return app, broker


def notifier_app(
    settings: NotifierSettings | None = None, clock: Clock | None = None
) -> tuple[FastStream, NatsBroker]:

    from bootstrap import parts
    from contracts_schema.subjects import NOTIFIER
    from eventstore.clock import SystemClock
    from eventstore.commands import CommandService
    from eventstore.service_app import build_service_app, connect_nats
    from eventstore.store import EventStore
    from notifier.service import Notifier
    from notifier.settings import NotifierSettings

    notifier_settings = settings or NotifierSettings()
    the_clock = clock or SystemClock()

    async def make(store: EventStore, nc: NATS, service_clock: Clock) -> CommandService:
        return parts.notifier_service(store, service_clock)

    app, broker = build_service_app(NOTIFIER.name, make, notifier_settings, the_clock)
    running: list[tuple[NATS, Notifier]] = []

    @app.after_startup
    async def start_notifier() -> None:
        nc = await connect_nats(notifier_settings, "notifier-background")
        notifier = parts.notifier(nc, the_clock, notifier_settings)
        # Commands are served by FastStream above; here the read model, feed, ticks, webhooks.
        await notifier.start(commands=False, tick_every=notifier_settings.tick_interval_seconds)
        running.append((nc, notifier))

    @app.on_shutdown
    async def stop_notifier() -> None:
        for nc, notifier in running:
            await notifier.stop()
            await nc.close()

    return app, broker


# The container commands.


def _check_command_settings(service_settings: Callable[[], object] | None = None) -> None:
    """Read the settings a command service reads only once connected (its CommandSettings),
    before anything connects: a bad one is then named in one line by `main` (exit 2), not
    after NATS answered (or never, while NATS is unreachable), nor as a traceback. Its own
    settings (NatsSettings unless named) too, before the composition root's imports: those
    take seconds of CPU that a refusal should not wait for."""
    from eventstore.settings import CommandSettings, NatsSettings

    (service_settings or NatsSettings)()
    CommandSettings()


def _check_projection_settings() -> None:
    """The heartbeat every runner of the projector and the gateway reads (ProjectionSettings),
    checked before anything connects, as `_check_command_settings`."""
    from eventstore.settings import ProjectionSettings

    ProjectionSettings()


def _trust_readers() -> None:
    """This process's readers take as fact only events signed by a key trusted for their
    context (GT_SIGNING_PUBLIC_KEYS; `eventstore.trust`)."""
    from eventstore.trust import configured, install

    install(configured())


@cli.command(cls=SingleValuedCommand)
def registry() -> None:
    """The registry's commands."""
    _check_command_settings()
    _trust_readers()
    app, _broker = registry_app()
    from eventstore.service_app import run_app  # on uvloop

    run_app(app)


@cli.command(cls=SingleValuedCommand)
def enrolment() -> None:
    """The enrolment commands, with the registry-facts read model beside them."""
    from enrolment.app import EnrolmentSettings

    _check_command_settings(EnrolmentSettings)
    logging.basicConfig(level=logging.INFO)  # text logs; JSON replaces it in the app
    _trust_readers()
    app, _broker = enrolment_app()
    from eventstore.service_app import run_app  # on uvloop

    run_app(app)


Loaded = TypeVar("Loaded")


def _config_or_exit(process: str, load: Callable[[], Loaded]) -> Loaded:
    """The process's checked configuration; on a bad one, every problem and exit 2."""
    from gateway.process_config import ConfigError

    try:
        return load()
    except ConfigError as exc:
        print(f"{process}: bad configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise typer.Exit(EXIT_CONFIG) from exc


READ_MODEL_SELECTIONS = ("gateway", "audit", "all")  # gateway.readside.SELECTIONS


def _read_models(value: str) -> str:
    if value not in READ_MODEL_SELECTIONS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(READ_MODEL_SELECTIONS)}")
    return value


@cli.command(cls=SingleValuedCommand)
def projector(
    read_models: str = typer.Option(
        "all",
        "--read-models",
        callback=_read_models,
        help="gateway: the gateway's own read models (read-your-writes waits for them);"
        " audit: the audit's history (into GT_AUDIT_DATABASE_URL when set); all: both here.",
    ),
) -> None:
    """The gateway's read models: applies them, announces their positions (exit 2 on a bad
    configuration)."""
    from gateway.process_config import load_projector_config

    config = _config_or_exit("projector", load_projector_config)
    _check_projection_settings()
    _trust_readers()
    from bootstrap.projector import run_process

    raise typer.Exit(run_process(config, read_models))


@cli.command(cls=SingleValuedCommand)
def gateway() -> None:
    """The gateway: GraphQL over the projector's read models, and health (exit 2 on a bad
    configuration)."""
    from gateway.process_config import load_config

    config = _config_or_exit("gateway", load_config)
    _check_projection_settings()
    _trust_readers()
    # Imported only now: the GraphQL app takes seconds to import, a refusal should not wait.
    from bootstrap.parts import projection_runner
    from gateway.process import run_process

    raise typer.Exit(run_process(config, projection_runner))


@notifier_cli.command("run", cls=SingleValuedCommand)
def notifier_run() -> None:
    """Serve commands, keep the feed and the schedule going (until interrupted)."""
    from eventstore.clock import SystemClock
    from notifier.settings import NotifierSettings

    _check_command_settings(NotifierSettings)
    _trust_readers()
    app, _broker = notifier_app(NotifierSettings(), SystemClock())
    from eventstore.service_app import run_app  # on uvloop

    run_app(app)


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date (expected YYYY-MM-DD)", param_hint="'--now'"
        ) from exc


@notifier_cli.command("tick", cls=SingleValuedCommand)
def notifier_tick(
    now: str = typer.Option(..., "--now", help="Run the schedule for this day (YYYY-MM-DD)."),
) -> None:
    """Raise every expiry warning due on a day, once (backfills, tests); prints JSON."""
    day = _parse_day(now)
    from bootstrap import parts
    from eventstore.clock import FixedClock
    from notifier.settings import NotifierSettings

    settings = NotifierSettings()
    _check_command_settings()

    async def main() -> dict[str, object]:
        nc = await _connect_once(settings, "notifier-tick", settings.one_shot_connect_seconds)
        clock = FixedClock(datetime.combine(day, datetime.min.time(), UTC))
        notifier = parts.notifier(nc, clock, settings)
        try:
            await notifier.start(commands=False, publish=False, webhooks=False)
            result = await notifier.tick(day)
        finally:
            await notifier.stop()
            await nc.close()
        return {
            "day": day.isoformat(),
            "raised": [w.key for w in result.raised],
            "already_raised": [w.key for w in result.already_raised],
            "failed": [f"{w.key}: {why}" for w, why in result.failed],
        }

    summary = asyncio.run(main())
    typer.echo(json.dumps(summary, indent=2))
    if summary["failed"]:
        raise typer.Exit(1)


@notifier_cli.command("webhook-secret", cls=SingleValuedCommand)
def webhook_secret(subscription_id: str) -> None:
    """Print the signing secret of a subscription (hand it to the organisation): one the
    notifier's database (GT_DATABASE_URL) holds, keyed with GT_WEBHOOK_MASTER_KEY (else the
    key `make run` keeps in <GT_DATA_DIR>/webhook-master-key)."""
    from notifier.settings import NotifierSettings
    from notifier.signing import subscription_secret

    settings = NotifierSettings()
    key = settings.webhook_master_key or _local_master_key()
    if not key:
        typer.echo(
            "bad configuration: GT_WEBHOOK_MASTER_KEY is not set (nor is there a"
            f" {_master_key_file()} of `make run`): the secrets derive from the notifier's key",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG)
    # The secret is derived from the id alone: a mistyped id (`Sub-1` for `sub-1`) would get
    # a secret no delivery is signed with, and the organisation every signature refused.
    problem = _subscription_problem(settings.database_url, subscription_id)
    if problem:
        typer.echo(f"webhook-secret: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(subscription_secret(key, subscription_id))


def _master_key_file() -> Path:
    return Path(os.environ.get("GT_DATA_DIR", "data")) / "webhook-master-key"


def _local_master_key() -> str | None:
    path = _master_key_file()
    return path.read_text().strip() or None if path.is_file() else None


def _subscription_problem(database_url: str, subscription_id: str) -> str | None:
    """Why `subscription_id` has no secret to hand out (None: an active subscription)."""
    from sqlalchemy import MetaData, inspect, select
    from sqlalchemy.engine import make_url

    from contracts_schema.errors import shown
    from eventstore.sql import make_engine
    from notifier.projection import NotifierSchedule

    url = make_url(database_url)
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(str(url.database)).is_file():  # make_engine would create it
        return (
            f"the notifier's database {url.database} does not exist: set GT_DATABASE_URL"
            " to the notifier's (make run: sqlite:///data/notifier.db)"
        )
    schedule = NotifierSchedule()
    schedule.define(MetaData())
    table = schedule.subscriptions
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(table.name):
                return (
                    f"{url.render_as_string(hide_password=True)} holds no notifier tables:"
                    " is GT_DATABASE_URL the notifier's database?"
                )
            row = conn.execute(
                select(table.c.active).where(table.c.subscription_id == subscription_id)
            ).first()
            if row is not None:
                return None if row.active else f"subscription {subscription_id!r} was ended"
            known = conn.execute(
                select(table.c.subscription_id)
                .where(table.c.active.is_(True))
                .order_by(table.c.subscription_id)
                .limit(11)
            ).scalars()
            ids = [str(i) for i in known]
    finally:
        engine.dispose()
    listed = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "") if ids else "none"
    return (
        f"no webhook subscription {shown(subscription_id)} in the notifier's database (ids"
        f" are case-sensitive; active: {listed}; one subscribed moments ago may not be"
        " there yet)"
    )


@cli.command("check-secrets", cls=SingleValuedCommand)
def check_secrets() -> None:
    """Check every GT_NATS_*_PASSWORD in the environment before the NATS servers read them
    (exit 2 naming each one nats-server would misread)."""
    import os

    from eventstore.settings import nats_password_problem

    problems = [
        f"{name} {problem}"
        for name, value in sorted(os.environ.items())
        if name.startswith("GT_NATS_") and name.endswith("PASSWORD")
        for problem in [nats_password_problem(value)]
        if problem
    ]
    for line in problems:
        typer.echo(f"check-secrets: {line}", err=True)
    if problems:
        raise typer.Exit(EXIT_CONFIG)
    typer.echo("check-secrets: every NATS password is one nats-server reads as text")


# Reference data: the deployment's one-shot job and the operator's update.


def _reference_list(
    csv_file: str | None, version: str | None, source: str | None
) -> MunicipalityList:
    from pathlib import Path

    from bootstrap.reference_data import MunicipalityList, shipped_list

    if csv_file is None:
        return shipped_list()
    if not version or not source:
        raise typer.BadParameter("--csv needs --version and --source (where the list is from)")
    return MunicipalityList(version, source, Path(csv_file).read_text(encoding="utf-8"))


T = TypeVar("T")


async def _connect_once(settings: NatsSettings, name: str, within: float) -> NATS:
    """A one-shot command's connection: its first connect bounded by `within` seconds, then
    exit 1 naming the URL. A service's `connect_nats` retries for ever (it waits for NATS to
    come up); a command run by hand with NATS down or GT_NATS_URL mistyped never ended
    (correct22). Once connected it rides out a reconnect as a service does."""
    import nats.errors

    from eventstore.service_app import connect_nats

    try:
        async with asyncio.timeout(within):
            return await connect_nats(settings, name)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(
            f"{name}: cannot reach NATS at {settings.nats_url} within {within:g} s; set"
            " GT_NATS_URL (and GT_NATS_USER/GT_NATS_PASSWORD)",
            file=sys.stderr,
        )
        raise typer.Exit(1) from exc


def _with_bus(wait: float, work: Callable[[CommandBus, NATS], Awaitable[T]]) -> T:
    """Run `work` with a command bus on the GT_NATS_* connection; exit 1 on a refusal."""
    from bootstrap.reference_data import ReferenceDataError
    from eventstore.observability import ObservabilitySettings, configure_logging
    from eventstore.settings import NatsSettings
    from gateway.commandbus import CommandBus, CommandRetrySettings

    configure_logging(ObservabilitySettings())
    settings = NatsSettings()
    CommandRetrySettings()  # read again by the bus, once connected: checked before

    async def main() -> T:
        within = max(wait, settings.one_shot_connect_seconds)
        nc = await _connect_once(settings, "reference-data", within)
        try:
            # A first start may find the enrolment service still starting: the bus waits.
            return await work(CommandBus(nc, timeout=60.0, retry_for=wait), nc)
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except ReferenceDataError as exc:
        typer.echo(f"reference-data: {exc}", err=True)
        raise typer.Exit(1) from exc


@reference_cli.command("load", cls=SingleValuedCommand)
def reference_load(
    csv_file: str | None = typer.Option(None, "--csv", help="A CBS list; default: shipped."),
    version: str | None = typer.Option(None, help="The list's version (e.g. 2026-01-01)."),
    source: str | None = typer.Option(None, help="Where the list comes from."),
    wait: float = typer.Option(180.0, help="Seconds to wait for the enrolment service."),
) -> None:
    """Load the municipality list (idempotent: the first start of every topology runs it)."""
    from bootstrap import reference_data

    reference = _reference_list(csv_file, version, source)
    reply = _with_bus(wait, lambda bus, _nc: reference_data.load(bus, reference))
    summary = {
        "version": reference.version,
        "source": reference.source,
        "sha256": reference.digest,
        "command_id": reference.load_command().command_id,
        "registered": len(reply.events),
        "duplicate": reply.duplicate,
    }
    typer.echo(json.dumps(summary))


@reference_cli.command("update", cls=SingleValuedCommand)
def reference_update(
    csv_file: str = typer.Option(..., "--csv", help="The newer CBS list."),
    version: str = typer.Option(..., help="Its version (e.g. 2026-01-01)."),
    source: str = typer.Option(..., help="Where it comes from."),
    mergers: str | None = typer.Option(
        None, help="CSV cbs_code,successor_code,effective_on for codes that left the list."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the changes, send nothing."),
    wait: float = typer.Option(30.0, help="Seconds to ride out a transient condition."),
) -> None:
    """Bring in a newer list: register new, rename, record mergers; print what changed."""
    from pathlib import Path

    from bootstrap import reference_data
    from eventstore.clock import SystemClock
    from eventstore.store import EventStore

    reference = _reference_list(csv_file, version, source)
    try:
        merging = (
            reference_data.parse_mergers(Path(mergers).read_text(encoding="utf-8"), mergers)
            if mergers
            else {}
        )
    except reference_data.ReferenceDataError as exc:
        typer.echo(f"reference-data: {exc}", err=True)
        raise typer.Exit(1) from exc

    async def work(bus: CommandBus, nc: NATS) -> dict[str, object]:
        known = await reference_data.known_municipalities(EventStore(nc, SystemClock()))
        plan = reference_data.plan_update(reference, known, merging)
        refused = [] if dry_run else await reference_data.apply(bus, plan, typer.echo)
        return {**plan.report(), "dry_run": dry_run, "refused": [r.message for r in refused]}

    report = _with_bus(wait, work)
    typer.echo(json.dumps(report, indent=2))
    if report["refused"]:
        raise typer.Exit(1)


def main() -> None:
    """The CLI; a setting that does not validate (read by any command) is named in one line
    with exit 2 instead of a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    # Not bootstrap.embedded's wrapper of it: that module imports the whole system (the
    # gateway, the audit, every service), seconds of CPU each part's process never used.
    from eventstore.settings import setting_problems

    try:
        cli()
    except ValidationError as exc:
        print(f"bad configuration: {'; '.join(setting_problems(exc))}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except SettingsError as exc:  # a list or a map that is not JSON
        print(f"bad configuration: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
