"""`audit` (`make audit ARGS=...`, `python -m bootstrap.audit_cli`): verify the log, replay
history, rebuild read models, export OCDS.

It finds the system by, in this order: the --nats-url / --database-url flags, the GT_NATS_URL /
GT_DATABASE_URL (and GT_<NAME>_DATABASE_URL) variables, and the endpoints.json that a running
`make run` writes into its data directory: --data-dir, else GT_DATA_DIR, else ./data.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from audit.aggregates import load_envelopes
from audit.bitemporal import horizon, parse_instant
from audit.bluegreen import blue_green_rebuild
from audit.bluegreen_split import blue_green_split
from audit.checks import verify_all
from audit.cli_options import SingleValuedCommand, SingleValuedGroup
from audit.history import replay as replay_history
from audit.integrity import set_aside_if_corrupt
from audit.ocds_cli import ocds_app
from audit.rebuild import Cancelled
from audit.render import print_replay, print_verify, safe
from audit.wiring import (
    DEFAULT_DATABASE,
    PROJECTIONS,
    contexts,
    database_of,
    open_store,
    resolve_settings,
    runner_factory,
)
from eventstore.errors import EventStoreError
from eventstore.settings import (
    NatsSettings,
    ProjectionSettings,
    database_url_problem,
    setting_problems,
    without_password,
)
from eventstore.signing import trusted_keys
from eventstore.split_rebuild import Connect
from eventstore.sql import make_engine

# Paragraphs as one line each: rich keeps a docstring's line breaks.
HELP = "\n\n".join(" ".join(p.split()) for p in (__doc__ or "").split("\n\n"))
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, cls=SingleValuedGroup)


@app.callback()
def _data_dir(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="GT_DATA_DIR",
            help="Data directory of a running `make run` (its endpoints.json); default ./data.",
        ),
    ] = None,
) -> None:
    if data_dir is not None:
        os.environ["GT_DATA_DIR"] = str(data_dir)


projections_app = typer.Typer(
    help="Projection maintenance.", no_args_is_help=True, cls=SingleValuedGroup
)
app.add_typer(projections_app, name="projections")
app.add_typer(ocds_app, name="ocds")
console = Console()
T = TypeVar("T")

NatsUrl = Annotated[
    str | None, typer.Option(help="NATS URL (default: GT_NATS_URL, else the data directory's).")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="Read-model database (default: GT_DATABASE_URL, else the data directory's)."),
]


def _settings(
    nats_url: str | None, database_url: str | None, *, reads_models: bool = False
) -> NatsSettings:
    """The resolved settings; a bad setting, or (for a command that reads the read models) a
    database URL we cannot use, refused in one line before anything connects."""
    try:
        settings = resolve_settings(nats_url, database_url)
        if reads_models:  # their projection runners read it once NATS answers: check it first
            ProjectionSettings()
    except ValidationError as exc:
        raise _fail("bad configuration: " + "; ".join(setting_problems(exc))) from exc
    url = settings.database_url
    problem = database_url_problem(url) if reads_models else None
    if problem:
        named = "--database-url" if database_url else "GT_DATABASE_URL, or the data directory's"
        raise _fail(f"read-model database {without_password(url)!r} {problem} ({named})")
    return settings


def _run(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except ConnectionError as exc:
        console.print(f"[red]error:[/red] {safe(exc)}")
        raise typer.Exit(2) from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/] {safe(message)}", highlight=False)
    return typer.Exit(2)


def _not_a_url(url: str, exc: Exception) -> typer.Exit:
    return _fail(f"read-model database {without_password(url)!r} is not a database URL ({exc})")


def _engine(url: str) -> Engine:
    """The read-model database, or one line naming the URL that is not one."""
    try:
        return make_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise _not_a_url(url, exc) from exc


def _must_exist(engine: Engine) -> None:
    """A SQLite read-model file that is not there is named: verify only reads, and SQLite
    would create an empty file at a mistyped path and report every read model lost."""
    url = engine.url
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return
    if not Path(name).exists():
        engine.dispose()
        raise _fail(f"read-model database {name} does not exist (--database-url, else"
                    " GT_DATABASE_URL, else the data directory's endpoints.json)")  # fmt: skip


def _set_aside_if_corrupt(url: str) -> Path | None:
    """`set_aside_if_corrupt`, with a URL that is not one refused in one line (it is parsed
    there first: a bad --database-url ended `projections rebuild` with a traceback)."""
    try:
        return set_aside_if_corrupt(url)
    except ArgumentError as exc:
        raise _not_a_url(url, exc) from exc


@app.command(cls=SingleValuedCommand)
def verify(
    nats_url: NatsUrl = None,
    database_url: DatabaseUrl = None,
    context: Annotated[list[str] | None, typer.Option(help="Only these contexts.")] = None,
    streams_only: Annotated[bool, typer.Option(help="Skip the projection comparison.")] = False,
    projection: Annotated[
        list[str] | None,
        typer.Option(help="Only these projections (default: every installed one)."),
    ] = None,
) -> None:
    """Check every hash chain and version sequence, and every projection against a rebuild."""
    settings = _settings(nats_url, database_url, reads_models=True)
    try:
        chosen = contexts(context)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    unknown = sorted(set(projection or ()) - set(PROJECTIONS))
    if unknown:
        raise _fail(f"unknown projection(s) {unknown}; known: {sorted(PROJECTIONS)}")
    if streams_only and projection:  # was: the projections named skipped, and "verified"
        raise _fail(
            "--streams-only skips the projections and --projection names some to compare:"
            " give one or the other"
        )
    checked = [PROJECTIONS[n] for n in projection] if projection else list(PROJECTIONS.values())
    live = None if streams_only else _engine(settings.database_url)
    if live is not None and (database_url or os.environ.get("GT_DATABASE_URL")):
        _must_exist(live)  # named by the user (with nothing named, NATS is asked first)

    async def go():  # type: ignore[no-untyped-def]
        async with open_store(settings) as store:
            with _progress() as bar:
                task = bar.add_task("verifying events", total=None)
                return await verify_all(
                    store,
                    chosen,
                    live,
                    checked,
                    lambda n: bar.advance(task, n),
                    runners=runner_factory(),
                    trusted=trusted_keys(Path(settings.data_dir)),
                )

    report = _run(go)
    print_verify(console, report)
    if not report.ok:
        raise typer.Exit(1)


@app.command(cls=SingleValuedCommand)
def replay(
    aggregate: Annotated[str, typer.Argument(help="<type>/<id>, e.g. tender/vt-0800-2000")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Valid date D (or timestamp).")
    ] = None,
    known_at: Annotated[
        str | None, typer.Option("--known-at", help="Transaction time K (date or timestamp).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    nats_url: NatsUrl = None,
) -> None:
    """Print an aggregate's history and its state as of D, as known at K."""
    try:
        at = horizon(
            parse_instant(as_of, name="--as-of") if as_of else None,
            parse_instant(known_at, name="--known-at") if known_at else None,
            now=datetime.now(UTC),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    settings = _settings(nats_url, None)

    async def go():  # type: ignore[no-untyped-def]
        async with open_store(settings) as store:
            return await load_envelopes(store, aggregate)

    try:
        aggregate_type, aggregate_id, envelopes = _run(go)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    except EventStoreError as exc:  # e.g. a server without the system's streams
        raise _fail(f"cannot read {aggregate}: {exc}") from exc
    if not envelopes:
        raise _fail(f"nothing is recorded for {aggregate}: no such {aggregate_type}")
    result = replay_history(aggregate_type, aggregate_id, envelopes, at)
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2, sort_keys=True))
    else:
        print_replay(console, result)


@projections_app.command("rebuild", cls=SingleValuedCommand)
def rebuild_projections(
    name: Annotated[str | None, typer.Argument(help="One projection (default: all).")] = None,
    nats_url: NatsUrl = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Blue-green rebuild: build beside the live tables, then cut over. Ctrl-C cancels safely."""
    if name is not None and name not in PROJECTIONS:
        raise _fail(f"unknown projection {name!r}; known: {sorted(PROJECTIONS)}")
    chosen = [name] if name else sorted(PROJECTIONS)
    settings = _settings(nats_url, database_url, reads_models=True)
    set_aside = _set_aside_if_corrupt(settings.database_url)
    if set_aside is not None:
        # Every read model of that file is gone: all are rebuilt from the event streams
        # (those in a service's own database are not touched unless named).
        console.print(f"the read-model database was corrupt; moved aside to {set_aside}")
        in_file = [k for k, m in PROJECTIONS.items() if database_of(m) == DEFAULT_DATABASE]
        chosen = sorted({*chosen, *in_file})
    live = _engine(settings.database_url)

    # The gateway's read models (those of the default database), when more than one is
    # rebuilt: in two processes at once, cut over together on SQLite, one by one on
    # PostgreSQL (`audit.bluegreen_split`).
    together = [k for k in chosen if database_of(PROJECTIONS[k]) == DEFAULT_DATABASE]
    if len(together) < 2:
        together = []
    connect = Connect(
        tuple(settings.nats_url.split(",")), settings.nats_user, settings.nats_password
    )

    async def go() -> None:
        async with open_store(settings) as store:
            with _progress() as bar:
                if together:
                    console.print(f"rebuilding in two processes: {', '.join(together)}")
                    bar.add_task("rebuilding in two processes", total=None)
                    built_all = await blue_green_split(
                        store,
                        live,
                        [PROJECTIONS[k] for k in together],
                        runners=runner_factory(),
                        connect=connect,
                    )
                    for key in together:
                        positions = built_all[PROJECTIONS[key]().key].positions
                        console.print(f"{key}: cut over at {positions}")
                for key in [k for k in chosen if k not in together]:
                    task = bar.add_task(f"rebuilding {key}", total=None)

                    def advance(n: int, t: TaskID = task) -> None:
                        bar.advance(t, n)

                    built = await blue_green_rebuild(
                        store, live, PROJECTIONS[key], runners=runner_factory(), progress=advance
                    )
                    console.print(f"{key}: cut over at {built.positions}")

    try:
        _run(go)
    except (Cancelled, KeyboardInterrupt) as exc:
        raise _fail("rebuild cancelled; the live projection was left as it was") from exc


def main() -> None:
    app()
