"""`python -m bootstrap.serve backup create|restore`: JetStream backups for the operator.

JetStream is the system of record; the read models in PostgreSQL are rebuilt from it after a
restore (`audit projections rebuild`, or the services' projections on start), so only the
streams are backed up here (docs/operations.md). The connection is the GT_NATS_* one (or
--nats-url); the user needs the JetStream API (`$JS.API.STREAM.>`), e.g. the operator's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from eventstore.backup import BackupError, StreamBackup, backup, restore
from eventstore.settings import NatsSettings

backup_cli = typer.Typer(
    help="Back up the JetStream streams (snapshots) and restore them into a fresh cluster.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL(s) (default: GT_NATS_URL).")]
Streams = Annotated[
    list[str] | None,
    typer.Option("--stream", help="Only these streams (default: every stream of the account)."),
]


def _connected(nats_url: str | None, work: Callable[..., Awaitable[T]]) -> T:
    settings = NatsSettings()
    if nats_url:
        settings = settings.model_copy(update={"nats_url": nats_url})

    async def main() -> T:
        from eventstore.service_app import connect_nats  # FastStream: only when it runs

        nc = await connect_nats(settings, "backup")
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


@backup_cli.command("create")
def create(
    out: Annotated[Path, typer.Option("--out", help="Directory for the backup (created).")],
    nats_url: NatsUrl = None,
    stream: Streams = None,
) -> None:
    """Snapshot the streams (events, CHECKPOINTS, the key-value buckets) into --out."""
    _report(_connected(nats_url, lambda nc: backup(nc, out, stream)))


@backup_cli.command("restore")
def restore_backup(
    directory: Annotated[Path, typer.Argument(help="A directory made by `backup create`.")],
    nats_url: NatsUrl = None,
    stream: Streams = None,
    replicas: Annotated[
        int | None, typer.Option(help="Replicas of the restored streams (default: as backed up).")
    ] = None,
) -> None:
    """Restore the streams into a cluster that does not have them (exit 1 if one exists)."""
    _report(_connected(nats_url, lambda nc: restore(nc, directory, stream, replicas=replicas)))
