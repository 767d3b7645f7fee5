"""`audit ocds export` (one process) and `audit ocds bulk` (the whole register) as OCDS 1.1.5.

Exit status: 0 written and valid; 1 written but some output fails the schema (each problem
is printed); 2 refused (unknown process, bad horizon, no connection), nothing written.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import IO, Annotated, Any

import nats.errors
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.bitemporal import Horizon, horizon, parse_instant
from audit.cli_options import SingleValuedCommand, SingleValuedGroup
from audit.ocds.export import Register, packages, require
from audit.ocds.importer import Problem, Report, collector_for_import, import_items, prepare
from audit.ocds.importer_read import read
from audit.ocds.ocid_prefix import BadOcidPrefix, ocid_prefix
from audit.ocds.packages import (
    POLICY_FILE,
    Publication,
    record,
    records_file,
    releases_file,
)
from audit.ocds.schemas import errors
from audit.ocds.sections import instant
from audit.wiring import open_store, resolve_settings
from eventstore.serving import request_reply
from eventstore.settings import NatsSettings

ocds_app = typer.Typer(
    help="Open Contracting Data Standard export and import.",
    no_args_is_help=True,
    cls=SingleValuedGroup,
)

AsOf = Annotated[str | None, typer.Option("--as-of", help="Valid date D (default: now).")]
KnownAt = Annotated[str | None, typer.Option("--known-at", help="Known at K (default: now).")]
NatsUrl = Annotated[
    str | None, typer.Option(help="NATS URL (default: GT_NATS_URL, else the data directory's).")
]


def _horizon(as_of: str | None, known_at: str | None, now: datetime) -> Horizon:
    return horizon(
        parse_instant(as_of, name="--as-of") if as_of else None,
        parse_instant(known_at, name="--known-at") if known_at else None,
        now=now,
    )


async def _register(settings: NatsSettings, at: Horizon) -> Register:
    async with open_store(settings) as store:
        return await Register.read(store, at)


def _publication(out: Path, *written: str) -> Publication:
    """Configured, or else each package's URI is the file:// URL of the file written."""
    configured = Publication.configured()
    if configured.settings.uri_base:
        return configured
    where = out.resolve()
    return Publication(
        configured.settings, where.as_uri(), {n: (where / n).as_uri() for n in written}
    )


def _write_policy(out: Path, how: Publication) -> None:
    if how.settings.publication_policy is None:
        text = (files("audit.ocds") / POLICY_FILE).read_text("utf-8")
        (out / POLICY_FILE).write_text(text, "utf-8")


async def export_tender(
    settings: NatsSettings,
    tender_id: str,
    as_of: str | None,
    known_at: str | None,
    out: Path | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    at = _horizon(as_of, known_at, now)
    exported = require((await _register(settings, at)).export(tender_id), at)
    how = _publication(out or Path("."), releases_file(tender_id), records_file(tender_id))
    return packages(exported, tender_id, now, how)


def _refuse(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _prefix() -> None:
    """A bad GT_OCDS_OCID_PREFIX refused before anything is read or written."""
    try:
        ocid_prefix()
    except BadOcidPrefix as exc:
        raise _refuse(exc) from exc


def _out_dir(out: Path) -> None:
    """Create --out before anything is read: a path that cannot be a writable directory is
    refused in one line, not after the export with a traceback."""
    if out.exists() and not out.is_dir():
        raise _refuse(ValueError(f"--out {out} is a file; name a directory"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"--out {out}: cannot create the directory ({exc.strerror})"
        raise _refuse(ValueError(problem)) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise _refuse(ValueError(f"--out {out}: the directory is not writable"))


@ocds_app.command("export", cls=SingleValuedCommand)
def export(
    process_id: Annotated[
        str, typer.Argument(help="A tender id, or a contract id without a tender.")
    ],
    out: Annotated[
        Path, typer.Option(help="Directory for the two package files (created if missing).")
    ] = Path("."),
    as_of: AsOf = None,
    known_at: KnownAt = None,
    nats_url: NatsUrl = None,
) -> None:
    """Write <id>-releases.json and <id>-records.json, validated against OCDS 1.1.5."""
    _prefix()
    _out_dir(out)
    settings = resolve_settings(nats_url, None)
    try:
        built = asyncio.run(export_tender(settings, process_id, as_of, known_at, out))
    except (ValueError, LookupError, ConnectionError) as exc:
        raise _refuse(exc) from exc
    problems = errors(built["release_package"], "release-package-schema.json")
    problems += errors(built["record_package"], "record-package-schema.json")
    for kind, name in (("release_package", releases_file), ("record_package", records_file)):
        path = out / name(process_id)
        path.write_text(json.dumps(built[kind], indent=2, ensure_ascii=False), "utf-8")
        typer.echo(f"wrote {path}")
    _write_policy(out, _publication(out))
    for problem in problems:
        typer.echo(f"invalid OCDS: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


class BulkFormat(StrEnum):
    jsonl = "jsonl"  # one release per line (OCDS JSON Lines)
    releases = "releases"  # one release package
    records = "records"  # one record package (a record per process)


BULK_FILES = {
    BulkFormat.jsonl: "releases.jsonl",
    BulkFormat.releases: "register-releases.json",
    BulkFormat.records: "register-records.json",
}


def _items(register: Register, kind: BulkFormat, ids: list[str]) -> Iterator[dict[str, Any]]:
    for process_id in ids:
        exported = register.export(process_id)
        for process in exported.processes:
            if kind is BulkFormat.records:
                yield record(process)
            else:
                yield from process


def _stream(sink: IO[str], kind: BulkFormat, meta: dict[str, Any],
            items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Write as items arrive: JSON Lines, or a package whose array is written item by item."""
    if kind is BulkFormat.jsonl:
        for item in items:
            sink.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            yield item
        return
    key = "records" if kind is BulkFormat.records else "releases"
    sink.write(json.dumps(meta, ensure_ascii=False)[:-1] + f', "{key}": [\n')
    for i, item in enumerate(items):
        sink.write(("" if i == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        yield item
    sink.write("\n]}\n")


def bulk_export(
    register: Register,
    sink: IO[str],
    kind: BulkFormat,
    how: Publication,
    validate: bool = True,
    progress: Progress | None = None,
) -> tuple[int, int, list[str]]:
    """Stream every process of the register; (processes, items, schema problems)."""
    ids = list(register.process_ids())
    file_name = BULK_FILES[kind]
    stamp = instant(register.at.known_at)
    meta = {} if kind is BulkFormat.jsonl else how.metadata(file_name, stamp)
    task = progress.add_task("processes", total=len(ids)) if progress else None
    problems: list[str] = []
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        for process_id in ids:
            yield from _items(register, kind, [process_id])
            if progress is not None and task is not None:
                progress.advance(task)

    for item in _stream(sink, kind, meta, counted()):
        count += 1
        if validate:  # item by item, as written: the package is never whole in memory
            found = (
                errors({**meta, "records": [item]}, "record-package-schema.json")
                if kind is BulkFormat.records
                else errors(item, "release-schema.json")
            )
            problems += [f"{item.get('ocid')} {p}" for p in found]
    return len(ids), count, problems


@ocds_app.command("bulk", cls=SingleValuedCommand)
def bulk(
    out: Annotated[
        Path,
        typer.Option(help="Directory to write into (created if missing), or - for stdout."),
    ] = Path("."),
    format: Annotated[
        BulkFormat,
        typer.Option(help="jsonl: a release per line; releases / records: one package."),
    ] = BulkFormat.jsonl,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    validate: Annotated[
        bool, typer.Option(help="Check every release / record against the schema.")
    ] = True,
    nats_url: NatsUrl = None,
) -> None:
    """Every contracting process of the register (each tender with its call-offs, each
    contract without a tender), streamed as it is exported, with progress on stderr."""
    _prefix()
    if str(out) != "-":
        _out_dir(out)
    settings = resolve_settings(nats_url, None)
    now = datetime.now(UTC)
    try:
        at = _horizon(as_of, known_at, now)
        register = asyncio.run(_register(settings, at))
    except (ValueError, LookupError, ConnectionError) as exc:
        raise _refuse(exc) from exc
    to_stdout = str(out) == "-"
    file_name = BULK_FILES[format]
    how = Publication.configured() if to_stdout else _publication(out, file_name)
    if how.base is None and to_stdout and format is not BulkFormat.jsonl:
        raise _refuse(ValueError("a package on stdout needs GT_OCDS_URI_BASE for its uri"))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=_stderr(), transient=False) as progress:
        if to_stdout:
            result = bulk_export(register, sys.stdout, format, how, validate, progress)
        else:
            with (out / file_name).open("w", encoding="utf-8") as sink:
                result = bulk_export(register, sink, format, how, validate, progress)
            _write_policy(out, how)
    processes, items, problems = result
    noun = "records" if format is BulkFormat.records else "releases"
    where = "stdout" if to_stdout else str(out / file_name)
    typer.echo(f"wrote {items} {noun} of {processes} processes to {where}", err=True)
    for problem in problems:
        typer.echo(f"invalid OCDS: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


def _stderr() -> Any:
    from rich.console import Console

    return Console(stderr=True)


# Exit statuses of `audit ocds import` (docs/ocds-import.md).
IMPORT_OK, IMPORT_PARTIAL, IMPORT_FAILED = 0, 1, 2


class NothingReadable(ValueError):
    """The input holds no release at all (not JSON, JSON Lines or gzip; no package)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("no release could be read from the input")
        self.problems = problems


NO_RESPONDERS_PATIENCE = 10.0  # seconds an import waits for a registry to answer at all


class RegistryUnreachable(Exception):  # not retried as a lost reply is: it ends the run
    """No registry service answers import commands."""


async def import_data(settings: NatsSettings, data: bytes, publisher: str) -> Report:
    prepare()  # (the merge rules and the validator: once per run, before the first mapping)
    items = list(read(data, publisher))
    if all(i.release is None for i in items):
        raise NothingReadable([Problem(i.path, i.problem or "no release") for i in items])

    async def partition_request(subject: str, payload: bytes) -> bytes:
        # A partition's subject: its process answers, or the importer sends the message on
        # the unpartitioned subject (`request`) at once.
        return await request_reply(store.nc, subject, payload, timeout=120, no_responder_wait=0)

    async def request(subject: str, payload: bytes) -> bytes:
        # "No responders" means no one took the message: sent again for a while (a registry
        # restarting, a cluster still spreading its interest) before the run ends on it.
        deadline = asyncio.get_running_loop().time() + NO_RESPONDERS_PATIENCE
        while True:
            try:
                return await request_reply(store.nc, subject, payload, timeout=120)
            except nats.errors.NoRespondersError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise RegistryUnreachable(
                        f"no registry service answers on {subject} (is it running?)"
                    ) from exc
                await asyncio.sleep(0.5)

    async with open_store(settings) as store:
        with typer.progressbar(length=len(items), label="importing", file=sys.stderr) as bar:
            return await import_items(
                items, request, store, bar.update, partition_request=partition_request
            )


@ocds_app.command("import", cls=SingleValuedCommand)
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
    """Import published OCDS 1.1 data as recorded facts; exit 0 all imported (or already
    there), 1 some skipped, 2 nothing readable or the registry was not reached (or a bad
    GT_OCDS_OCID_PREFIX: which of the input is this registry's own publication is unknown)."""
    _prefix()
    settings = resolve_settings(nats_url, None, sends_commands=True)
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        # One line naming the input and why ("is a directory"), not Python's "[Errno 21] ..."
        # (correct13).
        typer.echo(f"error: cannot read {source}: {exc.strerror or exc}", err=True)
        raise typer.Exit(IMPORT_FAILED) from exc
    try:
        with collector_for_import():  # collections of young garbage less often (import14)
            report = asyncio.run(import_data(settings, data, publisher))
    except NothingReadable as exc:
        for problem in exc.problems:
            typer.echo(f"unreadable {problem.path}: {problem.reason}", err=True)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(IMPORT_FAILED) from exc
    except (OSError, ConnectionError, RegistryUnreachable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(IMPORT_FAILED) from exc
    for problem in report.skipped:
        typer.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    typer.echo(report.summary())
    raise typer.Exit(IMPORT_PARTIAL if report.skipped else IMPORT_OK)
