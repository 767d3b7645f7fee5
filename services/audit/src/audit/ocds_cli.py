"""`audit ocds export`: a tender's contracting process as OCDS 1.1.5 packages."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from audit.bitemporal import horizon, parse_instant
from audit.ocds.export import gather, packages
from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from audit.ocds.schemas import errors
from audit.wiring import open_store, resolve_settings
from contracts_schema.subjects import REGISTRY
from eventstore.serving import send_command
from eventstore.settings import NatsSettings

ocds_app = typer.Typer(
    help="Open Contracting Data Standard export and import.", no_args_is_help=True
)


async def export_tender(settings: NatsSettings, tender_id: str, as_of: str | None,
                        known_at: str | None) -> dict[str, Any]:  # fmt: skip
    now = datetime.now(UTC)
    at = horizon(
        parse_instant(as_of, name="--as-of") if as_of else None,
        parse_instant(known_at, name="--known-at") if known_at else None,
        now=now,
    )
    async with open_store(settings) as store:
        exported = await gather(store, tender_id, at)
    if not exported.tender:
        raise LookupError(f"no OCDS-relevant events for tender {tender_id!r} at this horizon")
    return packages(exported, tender_id, now)


@ocds_app.command("export")
def export(
    tender_id: Annotated[str, typer.Argument(help="The tender (contracting process) id.")],
    out: Annotated[
        Path, typer.Option(help="Directory for the two package files (created if missing).")
    ] = Path("."),
    as_of: Annotated[str | None, typer.Option("--as-of", help="Valid date D.")] = None,
    known_at: Annotated[str | None, typer.Option("--known-at", help="Known at K.")] = None,
    nats_url: Annotated[
        str | None, typer.Option(help="NATS URL (default: GT_NATS_URL, else the data directory's).")
    ] = None,
) -> None:
    """Write <tender>-releases.json and <tender>-records.json, validated against OCDS 1.1.5."""
    settings = resolve_settings(nats_url, None)
    try:
        built = asyncio.run(export_tender(settings, tender_id, as_of, known_at))
    except (ValueError, LookupError, ConnectionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    problems = errors(built["release_package"], "release-package-schema.json")
    problems += errors(built["record_package"], "record-package-schema.json")
    out.mkdir(parents=True, exist_ok=True)
    for kind, name in (("release_package", "releases"), ("record_package", "records")):
        path = out / f"{tender_id}-{name}.json"
        path.write_text(json.dumps(built[kind], indent=2, ensure_ascii=False), "utf-8")
        typer.echo(f"wrote {path}")
    for problem in problems:
        typer.echo(f"invalid OCDS: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


# Exit statuses of `audit ocds import` (docs/ocds-import.md).
IMPORT_OK, IMPORT_PARTIAL, IMPORT_FAILED = 0, 1, 2


async def import_data(settings: NatsSettings, data: bytes, publisher: str) -> Report:
    items = list(read(data, publisher))
    async with open_store(settings) as store:
        with typer.progressbar(length=len(items), label="importing", file=sys.stderr) as bar:
            return await import_items(
                items,
                lambda command, who: send_command(store.nc, REGISTRY, command, actor=who),
                store,
                bar.update,
            )


@ocds_app.command("import")
def import_(
    source: Annotated[
        str, typer.Argument(help="A release or record package, JSON Lines, gzip; '-' is stdin.")
    ],
    publisher: Annotated[
        str, typer.Option(help="Publisher when the input names none (bare releases).")
    ] = "unknown publisher",
    nats_url: Annotated[
        str | None, typer.Option(help="NATS URL (default: GT_NATS_URL, else the data directory's).")
    ] = None,
) -> None:
    """Import published OCDS 1.1 data as recorded facts; exit 0 all imported, 1 some skipped,
    2 nothing could be read or the registry was not reached."""
    settings = resolve_settings(nats_url, None)
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        report = asyncio.run(import_data(settings, data, publisher))
    except (OSError, ConnectionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(IMPORT_FAILED) from exc
    for problem in report.skipped:
        typer.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    typer.echo(report.summary())
    raise typer.Exit(IMPORT_PARTIAL if report.skipped else IMPORT_OK)
