"""Reference data through the commands: the CBS municipality list, loaded and updated.

Every topology runs the same code at first start: compose's and Kubernetes' one-shot job
(`python -m bootstrap.serve reference-data load`) and `make run` (`bootstrap.embedded`).
The load is one `LoadMunicipalities` command whose id names the list's version and the hash
of its text, so running it again is a no-op (`duplicate`) and a different list is a
different command. Its events carry that id as causation and `reference-data:<version>` as
correlation id: the record of which list, from which source, registered each municipality.

`update` brings in a newer CBS list (mergers, renames, new municipalities): it compares the
list with the municipalities the enrolment stream knows, sends one command per change with
ids derived from the version (running it again changes nothing) and prints what changed.
A municipality that disappears from the list needs its merger (successor and date) in a
mergers file: without one nothing is sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from contracts_schema.base import Command
from contracts_schema.enrolment import commands as en
from contracts_schema.enrolment.events import (
    MunicipalityMerged,
    OrganisationRegistered,
    OrganisationRenamed,
)
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT
from enrolment.domain.municipality_list import MunicipalityRow, parse_municipalities
from enrolment.service import shipped_municipalities
from eventstore.ports import EventStorePort

# The list shipped with the enrolment service (provenance: bench/data/municipalities.SOURCE.md).
SHIPPED_VERSION = "2025-01-01"
SHIPPED_SOURCE = "CBS gemeentelijke indeling 2025 (NLExtract gemeentelijke-indeling.xml)"


class ReferenceDataError(Exception):
    """The list or the mergers file cannot be applied; nothing was sent."""


@dataclass(frozen=True)
class MunicipalityList:
    version: str
    source: str
    text: str
    shipped: bool = False

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def correlation_id(self) -> str:
        return f"reference-data:{self.version}"

    def rows(self) -> list[MunicipalityRow]:
        try:
            return parse_municipalities(self.text, self.source)
        except RuleViolation as violation:
            raise ReferenceDataError(violation.message) from violation

    def load_command(self) -> en.LoadMunicipalities:
        return en.LoadMunicipalities(
            command_id=f"reference-municipalities-{self.version}-{self.digest[:16]}",
            source=f"{self.source}, version {self.version}, sha256 {self.digest[:16]}",
            # The shipped list travels with the service: the command need not carry it.
            csv_text=None if self.shipped else self.text,
        )


def shipped_list() -> MunicipalityList:
    return MunicipalityList(SHIPPED_VERSION, SHIPPED_SOURCE, shipped_municipalities(), True)


class Sender(Protocol):
    """What sends a command and answers its reply (`gateway.commandbus.CommandBus`)."""

    async def send(
        self, command: Command, actor: str, *, correlation_id: str | None = None
    ) -> CommandAccepted | CommandRejected: ...


ACTOR = "reference-data"


async def load(bus: Sender, reference: MunicipalityList | None = None) -> CommandAccepted:
    """Load a list (the shipped one by default); raises ReferenceDataError when refused."""
    reference = reference or shipped_list()
    reference.rows()  # a malformed list is refused here, with every bad line named
    reply = await bus.send(reference.load_command(), ACTOR, correlation_id=reference.correlation_id)
    if isinstance(reply, CommandRejected):
        raise ReferenceDataError(f"{reply.code}: {reply.message}")
    return reply


# ---- updates ----


@dataclass(frozen=True)
class Merger:
    code: str
    successor_code: str
    effective_on: date


def parse_mergers(text: str, source: str) -> dict[str, Merger]:
    """`cbs_code,successor_code,effective_on` lines -> merger by ceasing code."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    if header != ["cbs_code", "successor_code", "effective_on"]:
        raise ReferenceDataError(
            f"{source} line 1: the header must be cbs_code,successor_code,effective_on"
        )
    mergers: dict[str, Merger] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        try:
            code, successor, day = (cell.strip() for cell in row)
            mergers[code] = Merger(code, successor, date.fromisoformat(day))
        except ValueError as exc:
            raise ReferenceDataError(f"{source} line {reader.line_num}: {exc}") from exc
    return mergers


@dataclass
class Known:
    """The municipalities the enrolment stream knows: current name, and which merged away."""

    names: dict[str, str] = field(default_factory=dict)
    merged: set[str] = field(default_factory=set)

    @property
    def current(self) -> dict[str, str]:
        return {code: name for code, name in self.names.items() if code not in self.merged}


async def known_municipalities(source: EventStorePort) -> Known:
    known = Known()
    async for event in source.read_stream(
        ENROLMENT, 1, ENROLMENT.aggregate_type_filter("organisation")
    ):
        payload = event.envelope.payload
        kind = event.envelope.event_type
        if (
            kind == OrganisationRegistered.event_type and payload.get("kind") == "municipality"
        ) or (kind == OrganisationRenamed.event_type and payload["code"] in known.names):
            known.names[payload["code"]] = payload["name"]
        elif kind == MunicipalityMerged.event_type:
            known.merged.add(payload["code"])
    return known


@dataclass(frozen=True)
class Change:
    kind: str  # added | renamed | merged
    code: str
    detail: str
    command: Command


@dataclass(frozen=True)
class Plan:
    reference: MunicipalityList
    changes: tuple[Change, ...]
    unchanged: int

    def report(self) -> dict[str, object]:
        by_kind: dict[str, list[str]] = {"added": [], "renamed": [], "merged": []}
        for change in self.changes:
            by_kind[change.kind].append(f"{change.code}: {change.detail}")
        return {
            "version": self.reference.version,
            "source": self.reference.source,
            "sha256": self.reference.digest,
            "correlation_id": self.reference.correlation_id,
            **by_kind,
            "unchanged": self.unchanged,
        }


def plan_update(reference: MunicipalityList, known: Known, mergers: dict[str, Merger]) -> Plan:
    """The commands that take the registry from `known` to `reference` (pure)."""
    rows = {row.code: row for row in reference.rows()}
    current = known.current
    version = reference.version
    changes: list[Change] = []
    added = [code for code in rows if code not in known.names]
    if added:
        # The load registers the codes it does not know yet and leaves the others alone.
        load = reference.load_command()
        changes += [Change("added", c, rows[c].name, load) for c in sorted(added)]
    for code in sorted(set(rows) & set(current)):
        if rows[code].name != current[code]:
            rename = en.RenameOrganisation(
                command_id=f"reference-{version}-rename-{code}", code=code, name=rows[code].name
            )
            changes.append(Change("renamed", code, f"{current[code]} -> {rows[code].name}", rename))
    gone = sorted(set(current) - set(rows))
    missing = [code for code in gone if code not in mergers]
    if missing:
        raise ReferenceDataError(
            f"{len(missing)} municipalities are not on the {version} list and have no merger"
            f" in the mergers file: {', '.join(missing)}; give each its successor and date"
            " (cbs_code,successor_code,effective_on); nothing was sent"
        )
    for code in gone:
        merger = mergers[code]
        if merger.successor_code not in rows:
            raise ReferenceDataError(
                f"{code} merges into {merger.successor_code}, which is not on the {version}"
                " list; nothing was sent"
            )
        merge = en.MergeMunicipality(
            command_id=f"reference-{version}-merge-{code}",
            code=code,
            successor_code=merger.successor_code,
            effective_on=merger.effective_on,
        )
        changes.append(
            Change("merged", code, f"into {merger.successor_code} on {merger.effective_on}", merge)
        )
    changed = {c.code for c in changes}
    return Plan(reference, tuple(changes), len([c for c in rows if c not in changed]))


async def apply(
    bus: Sender, plan: Plan, say: Callable[[str], None] = lambda _: None
) -> list[CommandRejected]:
    """Send each distinct command once, in order (additions, renames, mergers)."""
    refused: list[CommandRejected] = []
    sent: set[str] = set()
    for change in plan.changes:
        if change.command.command_id in sent:
            continue
        sent.add(change.command.command_id)
        reply = await bus.send(change.command, ACTOR, correlation_id=plan.reference.correlation_id)
        if isinstance(reply, CommandRejected):
            say(f"{change.kind} {change.code}: {reply.code}: {reply.message}")
            refused.append(reply)
    return refused
