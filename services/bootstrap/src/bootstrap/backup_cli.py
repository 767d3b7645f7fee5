"""`python -m bootstrap.serve backup create|restore`: JetStream backups for the operator.

JetStream is the system of record; the read models in PostgreSQL are rebuilt from it after a
restore (`audit projections rebuild`, or the services' projections on start), so only the
streams are backed up here (docs/operations.md). The connection is the GT_NATS_* one (or
--nats-url); the user needs the JetStream API (`$JS.API.STREAM.>`), e.g. the operator's.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError

from audit.cli_options import SingleValuedCommand, SingleValuedGroup
from eventstore.settings import NatsSettings, setting_problems

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from eventstore.backup import StreamBackup

# nats and eventstore.backup (~1 s of imports) are imported by the commands that use them:
# `bootstrap.serve` adds this group to every service's command line, and a service's refusal
# of its settings, or `--help`, should not pay for them.

backup_cli = typer.Typer(
    help="Back up the JetStream streams (snapshots) and restore them into a fresh cluster.",
    no_args_is_help=True,
    add_completion=False,
    cls=SingleValuedGroup,
)
T = TypeVar("T")

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL(s) (default: GT_NATS_URL).")]
Streams = Annotated[
    list[str] | None,
    typer.Option("--stream", help="Only these streams (default: every stream of the account)."),
]


def _refuse(message: str) -> typer.Exit:
    typer.echo(f"backup: {message}", err=True)
    return typer.Exit(2)


async def _quiet(_exc: Exception) -> None:
    return None  # a server that does not answer is reported once, below


def _connected(nats_url: str | None, work: Callable[..., Awaitable[T]]) -> T:
    import nats

    from eventstore.backup import BackupError

    try:
        settings = NatsSettings()
    except ValidationError as exc:
        raise _refuse("bad configuration: " + "; ".join(setting_problems(exc))) from exc
    if nats_url:
        settings = settings.model_copy(update={"nats_url": nats_url})

    async def main() -> T:
        # A one-shot command: a server that does not answer is an error, not a reason to
        # retry forever as a service does (it looped, printing a traceback per attempt).
        try:
            async with asyncio.timeout(15):
                nc = await nats.connect(
                    settings.nats_url.split(","),
                    name="backup",
                    user=settings.nats_user,
                    password=settings.nats_password,
                    connect_timeout=3,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.5,
                    error_cb=_quiet,
                )
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise _refuse(
                f"cannot reach NATS at {settings.nats_url} ({type(exc).__name__});"
                " set --nats-url or GT_NATS_URL (and GT_NATS_USER/GT_NATS_PASSWORD)"
            ) from exc
        try:
            return await work(nc)
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except BackupError as exc:
        typer.echo(f"backup: {exc}", err=True)
        raise typer.Exit(1) from exc


def _report(taken: list[StreamBackup]) -> None:
    typer.echo(json.dumps([t.as_json() for t in taken], indent=2))


@backup_cli.command("create", cls=SingleValuedCommand)
def create(
    out: Annotated[Path, typer.Option("--out", help="Directory for the backup (created).")],
    nats_url: NatsUrl = None,
    stream: Streams = None,
) -> None:
    """Snapshot the streams (events, CHECKPOINTS, the key-value buckets) into --out."""
    from eventstore.backup import backup

    if out.exists() and not out.is_dir():
        raise _refuse(f"--out {out} is a file; name a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(f"--out {out}: cannot create the directory ({exc.strerror})") from exc
    _report(_connected(nats_url, lambda nc: backup(nc, out, stream)))


@backup_cli.command("restore", cls=SingleValuedCommand)
def restore_backup(
    directory: Annotated[Path, typer.Argument(help="A directory made by `backup create`.")],
    nats_url: NatsUrl = None,
    stream: Streams = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            min=1, max=5, help="Replicas of the restored streams, 1..5 (default: as backed up)."
        ),
    ] = None,
) -> None:
    """Restore the streams into a cluster that does not have them (exit 1 if one exists)."""
    from eventstore.backup import MANIFEST, restore

    if not (directory / MANIFEST).is_file():
        raise _refuse(f"{directory} is not a backup: it has no {MANIFEST}")
    _report(_connected(nats_url, lambda nc: restore(nc, directory, stream, replicas=replicas)))


@backup_cli.command("acknowledge-loss", cls=SingleValuedCommand)
def acknowledge_loss(
    stream: Annotated[str, typer.Argument(help="The event stream that lost messages.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the loss is accepted (kept in the record).")
    ],
    nats_url: NatsUrl = None,
) -> None:
    """Accept an event stream's lost messages as they stand (`audit verify` names them), so
    its service decides commands again: a record signed with the context's key
    (GT_SIGNING_SEED of the service owning the stream) in CHECKPOINTS. Restoring the stream
    from a backup that holds them is the other way; rebuild the read models after either."""
    from contracts_schema.subjects import CONTEXTS
    from eventstore.backup import BackupError
    from eventstore.losses import acknowledge
    from eventstore.settings import signing_seed_problem
    from eventstore.signing import EventSigner

    context = next((c for c in CONTEXTS.values() if c.stream == stream), None)
    if context is None:
        known = ", ".join(sorted(c.stream for c in CONTEXTS.values()))
        raise _refuse(f"{stream} is no event stream of the registry ({known})")
    if not reason.strip():
        raise _refuse("--reason is empty: say why the loss is accepted")
    seed = os.environ.get("GT_SIGNING_SEED", "")  # checked here: NatsSettings would name it too
    if not seed:
        raise _refuse(f"GT_SIGNING_SEED is unset: the {context.name} service's key signs it")
    problem = signing_seed_problem(seed)
    if problem:
        raise _refuse(f"GT_SIGNING_SEED {problem}: the {context.name} service's key signs it")
    signer = EventSigner(seed)

    async def work(nc: NATS) -> dict[str, object]:
        try:
            ack = await acknowledge(nc, context.name, stream, signer, reason.strip())
        except ValueError as exc:
            raise BackupError(str(exc)) from exc
        return {**ack.body(), "signature": ack.signature}

    typer.echo(json.dumps(_connected(nats_url, work), indent=2))
