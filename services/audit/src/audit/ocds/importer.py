"""Import published OCDS data: validate, map, send to the registry, report.

Releases of one process are imported in date order, one after the other (each is compared
with the process compiled before it); processes go concurrently. A release that fails the
1.1.5 schema, cannot be mapped or is refused by the registry is reported with its JSON path
and reason and skipped; the rest are imported. The same release imported again sends the
same command ids, which the registry answers as duplicates: nothing is stored twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.ocds.importer_map import (
    ProcessState,
    Unmappable,
    contract_id_of,
    map_release,
    tender_id_of,
)
from audit.ocds.importer_read import Item
from audit.ocds.packages import merger
from audit.ocds.schemas import errors
from contracts_schema.base import Command
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import ContractState, ContractStatus, LotStatus, TenderState
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.folded import load_folded
from eventstore.ports import EventStorePort

Send = Callable[[Command, str], Awaitable[CommandAccepted | CommandRejected]]
CONCURRENCY = 16


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


@dataclass
class Report:
    imported: int = 0
    duplicates: int = 0
    events: int = 0
    skipped: list[Problem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.imported + self.duplicates + len(self.skipped)

    def summary(self) -> str:
        return (f"imported {self.imported}, skipped {len(self.skipped)}, duplicates"
                f" {self.duplicates} ({self.events} events appended)")  # fmt: skip


def actor(publisher: str) -> str:
    return f"import:{publisher}"


def _schema_problem(release: dict[str, Any]) -> str | None:
    found = errors(release, "release-schema.json")
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"fails the OCDS 1.1.5 release schema: {found[0]}{more}"


_LOT = {LotStatus.PROVISIONALLY_AWARDED: "provisional", LotStatus.AWARDED: "awarded",
        LotStatus.CANCELLED: "cancelled"}  # fmt: skip


def recorded_state(t: TenderState) -> ProcessState:
    """What the registry recorded of a process before this import (a re-run starts here)."""
    if not t.exists:
        return ProcessState()
    return ProcessState(
        planned=True,
        published=t.published_on is not None,
        cancelled=t.cancelled_on is not None,
        framework=t.framework,
        authority=t.contracting_authority,
        lots={lot.lot_id: _LOT.get(lot.status, "open") for lot in t.lots},
        suppliers={lot.lot_id: list(lot.supplier_ids) for lot in t.lots},
    )


def recorded_contract(c: ContractState) -> dict[str, Any]:
    value = None if c.value_eur is None else float(c.value_eur)
    status = "terminated" if c.status is ContractStatus.TERMINATED else "active"
    return {"end": c.end_date, "extent": c.max_extent_date, "value": value, "status": status}


async def import_items(
    items: Iterable[Item],
    send: Send,
    store: EventStorePort,
    progress: Callable[[int], None] = lambda n: None,
) -> Report:
    report = Report()
    processes: dict[str, list[Item]] = {}
    for item in items:
        problem = item.problem
        if problem is None and item.release is not None:
            problem = _schema_problem(item.release)
        if problem is not None or item.release is None:
            report.skipped.append(Problem(item.path, problem or "no release"))
            progress(1)
            continue
        processes.setdefault(item.release["ocid"], []).append(item)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one_process(releases: list[Item]) -> None:
        async with limit:
            await _import_process(releases, send, store, report, progress)

    await asyncio.gather(*(one_process(r) for r in processes.values()))
    return report


async def _import_process(
    items: list[Item],
    send: Send,
    store: EventStorePort,
    report: Report,
    progress: Callable[[int], None],
) -> None:
    # Valid time order; a release id seen twice (here or in the registry) is one release.
    ordered = sorted(items, key=lambda i: str(i.release["date"]) if i.release else "")
    ocid = str(ordered[0].release["ocid"]) if ordered[0].release else ""
    recorded = await load_folded(store, FOLDS["registry", "tender"], tender_id_of(ocid))
    state = recorded_state(recorded)
    seen = set(recorded.source_release_ids)
    accepted: list[dict[str, Any]] = []
    for item in ordered:
        release = item.release
        assert release is not None
        if str(release["id"]) in seen:
            report.duplicates += 1
            progress(1)
            continue
        for c in release.get("contracts", []):
            cid = contract_id_of(ocid, str(c.get("id")))
            if isinstance(c, dict) and cid not in state.contracts:
                known = await load_folded(store, FOLDS["registry", "contract"], cid)
                if known.exists:
                    state.contracts[cid] = recorded_contract(known)
        try:
            compiled = merger().create_compiled_release([*accepted, release])
            mapped = map_release(release, compiled, state, item.source.publisher, item.source.uri)
        except Unmappable as exc:
            report.skipped.append(Problem(f"{item.path}.{exc.path}", exc.reason))
            continue
        except (ValueError, KeyError, TypeError) as exc:
            report.skipped.append(Problem(item.path, f"cannot be mapped: {exc!r}"))
            continue
        finally:
            progress(1)
        who = actor(item.source.publisher)
        reply = await send(mapped.tender, who)
        if isinstance(reply, CommandRejected):
            report.skipped.append(Problem(item.path, f"{reply.code}: {reply.message}"))
            continue
        duplicate = reply.duplicate
        events = len(reply.events)
        refused = None
        for command in mapped.contracts:
            answer = await send(command, who)
            if isinstance(answer, CommandRejected):
                refused = f"contract {command.contract_id}: {answer.code}: {answer.message}"
                break
            duplicate = duplicate and answer.duplicate
            events += len(answer.events)
        if refused:
            report.skipped.append(Problem(item.path, refused))
            continue
        accepted.append(release)
        seen.add(str(release["id"]))
        state = mapped.state
        if duplicate:
            report.duplicates += 1
        else:
            report.imported += 1
            report.events += events


__all__ = ["Problem", "Report", "import_items"]
