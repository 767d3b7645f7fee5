"""Import published OCDS data: validate, map, send to the registry, report.

Releases of one process are imported in date order, one after the other (each is compared
with the process compiled before it), many in one message (`ImportProcessReleases`, executed
by the registry as the releases' own commands in order); processes go concurrently. A
release that fails the 1.1.5 schema, cannot be mapped or is refused by the registry is
reported with its JSON path and reason and skipped; the rest are imported. The same release
imported again sends the same command ids, which the registry answers as duplicates:
nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.ocds.importer_map import (
    Mapped,
    ProcessState,
    Unmappable,
    command_id,
    contract_id_of,
    map_release,
    tender_id_of,
)
from audit.ocds.importer_read import Item
from audit.ocds.packages import merger
from audit.ocds.schemas import errors
from contracts_schema.folds import FOLDS
from contracts_schema.registry.import_commands import (
    ImportedRelease,
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ProcessReleasesImported,
)
from contracts_schema.registry.state import ContractState, ContractStatus, LotStatus, TenderState
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.folded import load_folded
from eventstore.ports import EventStorePort

# A command message in, the reply's bytes out: NATS request/reply, or `handle` in-process.
Request = Callable[[str, bytes], Awaitable[bytes]]
CONCURRENCY = 16  # processes in flight: each holds one of the registry's command workers
BATCH = 50  # releases per ImportProcessReleases message
MAX_MESSAGE = 900_000  # bytes; NATS refuses messages over its max_payload (1 MB by default)
ATTEMPTS = 3
RETRY_PAUSE = 1.0


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
    request: Request,
    store: EventStorePort,
    progress: Callable[[int], None] = lambda n: None,
) -> Report:
    """Import every readable release; `request(subject, payload)` answers a command message
    with the reply's bytes (NATS request/reply, or a service's `handle` in-process)."""
    report = Report()
    processes: dict[str, list[Item]] = {}
    for item in items:
        problem = item.problem
        if (
            problem is None
            and item.release is not None
            and not isinstance(item.release.get("ocid"), str)
        ):
            problem = _schema_problem(item.release)  # the schema names what is missing
        if problem is not None or item.release is None:
            report.skipped.append(Problem(item.path, problem or "no release"))
            progress(1)
            continue
        # Validated with its process (below), so that the first processes are sent meanwhile.
        processes.setdefault(item.release["ocid"], []).append(item)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one_process(releases: list[Item]) -> None:
        async with limit:
            await _Process(releases, request, store, report, progress).run()

    await asyncio.gather(*(one_process(r) for r in processes.values()))
    return report


class _Process:
    """One process's releases, in valid time order, sent in batches (`ImportProcessReleases`).

    Each release is mapped on the process compiled from the releases before it; a batch is
    executed by the registry release by release, and stops at the first refused one, so the
    releases after it are mapped again on what was recorded and sent in the next batch: the
    outcome is that of sending each release's commands one after the other.
    """

    def __init__(
        self,
        items: list[Item],
        request: Request,
        store: EventStorePort,
        report: Report,
        progress: Callable[[int], None],
    ) -> None:
        # Valid time order; a release id seen twice (here or in the registry) is one release.
        self.items = sorted(
            items, key=lambda i: str(i.release.get("date", "")) if i.release else ""
        )
        self.ocid = str(self.items[0].release["ocid"]) if self.items[0].release else ""
        self.request = request
        self.store = store
        self.report = report
        self.progress = progress
        self.state = ProcessState()
        self.seen: set[str] = set()
        self.accepted: list[dict[str, Any]] = []

    async def run(self) -> None:
        pending = []
        for item in self.items:
            assert item.release is not None
            problem = _schema_problem(item.release)
            if problem is None:
                pending.append(item)
            else:
                self._skip(Problem(item.path, problem))
        if not pending:
            return
        self.items = pending
        await self._recorded()
        while pending:
            batch, pending = self._map(pending)
            if batch:
                pending = [*await self._send(batch), *pending]

    async def _recorded(self) -> None:
        """What the registry recorded of this process before (a re-run starts there)."""
        cids = {contract_id_of(self.ocid, str(c.get("id"))) for i in self.items if i.release
                for c in i.release.get("contracts", []) if isinstance(c, dict)}  # fmt: skip
        contract_fold = FOLDS["registry", "contract"]
        tender, *contracts = await asyncio.gather(
            load_folded(self.store, FOLDS["registry", "tender"], tender_id_of(self.ocid)),
            *(load_folded(self.store, contract_fold, cid) for cid in sorted(cids)),
        )
        self.state = recorded_state(tender)
        self.seen = set(tender.source_release_ids)
        for cid, known in zip(sorted(cids), contracts, strict=True):
            if known.exists:
                self.state.contracts[cid] = recorded_contract(known)

    def _map(self, pending: list[Item]) -> tuple[list[tuple[Item, Mapped]], list[Item]]:
        """Map releases on top of each other until a batch is full: (batch, the rest)."""
        batch: list[tuple[Item, Mapped]] = []
        state, compiled_from = self.state, list(self.accepted)
        ids: set[str] = set()
        for n, item in enumerate(pending):
            release = item.release
            assert release is not None
            rid = str(release["id"])
            # A release id twice in a batch: the second waits for the first one's outcome.
            if len(batch) == BATCH or rid in ids:
                return batch, pending[n:]
            if rid in self.seen:
                self.report.duplicates += 1
                self.progress(1)
                continue
            try:
                compiled = merger().create_compiled_release([*compiled_from, release])
                mapped = map_release(release, compiled, state, item.source.publisher,
                                     item.source.uri)  # fmt: skip
            except Unmappable as exc:
                self._skip(Problem(f"{item.path}.{exc.path}", exc.reason))
                continue
            except (ValueError, KeyError, TypeError) as exc:
                self._skip(Problem(item.path, f"cannot be mapped: {exc!r}"))
                continue
            batch.append((item, mapped))
            compiled_from.append(release)
            ids.add(rid)
            state = mapped.state
        return batch, []

    def _skip(self, problem: Problem) -> None:
        self.report.skipped.append(problem)
        self.progress(1)

    async def _send(self, batch: list[tuple[Item, Mapped]]) -> list[Item]:
        """Send one batch; the releases to map again (those after a refused one)."""
        rids = [str(item.release["id"]) for item, _ in batch if item.release]
        command = ImportProcessReleases(
            command_id=command_id(self.ocid, "\n".join(rids), "process"),
            ocid=self.ocid,
            releases=[ImportedRelease(release_id=rid, tender=m.tender, contracts=m.contracts)
                      for rid, (_, m) in zip(rids, batch, strict=True)],
        )  # fmt: skip
        body = CommandRequest(command_type=command.command_type,
                              command=command.model_dump(mode="json"),
                              actor=actor(batch[0][0].source.publisher))  # fmt: skip
        payload = body.model_dump_json().encode()
        if len(payload) > MAX_MESSAGE:
            if len(batch) > 1:  # send the first half; the rest is mapped again after it
                half = len(batch) // 2
                return [*await self._send(batch[:half]), *(i for i, _ in batch[half:])]
            item = batch[0][0]
            self._skip(Problem(item.path, f"its facts ({len(payload):,} bytes) exceed the"
                               f" largest command message ({MAX_MESSAGE:,} bytes)"))  # fmt: skip
            return []
        answer = await self._ask(payload)
        if isinstance(answer, CommandRejected) or not answer.releases:  # the batch as a whole
            why = (f"{answer.code}: {answer.message}" if isinstance(answer, CommandRejected)
                   else "the registry answered for none of these releases")  # fmt: skip
            for item, _ in batch:
                self._skip(Problem(item.path, why))
            return []
        for n, ((item, mapped), outcome) in enumerate(zip(batch, answer.releases, strict=False)):
            refused = outcome.refused
            if refused is not None:
                which = "" if refused.command_id == mapped.tender.command_id else next(
                    (f"contract {c.contract_id}: " for c in mapped.contracts
                     if c.command_id == refused.command_id), "")  # fmt: skip
                self._skip(Problem(item.path, f"{which}{refused.code}: {refused.message}"))
                return [i for i, _ in batch[n + 1 :]]
            self._recorded_release(item, mapped, outcome)
        return [i for i, _ in batch[len(answer.releases) :]]

    def _recorded_release(
        self, item: Item, mapped: Mapped, outcome: ImportedReleaseOutcome
    ) -> None:
        assert item.release is not None
        self.accepted.append(item.release)
        self.seen.add(str(item.release["id"]))
        self.state = mapped.state
        accepted = [r for r in outcome.replies if isinstance(r, CommandAccepted)]
        if all(r.duplicate for r in accepted):
            self.report.duplicates += 1
        else:
            self.report.imported += 1
            self.report.events += sum(len(r.events) for r in accepted)
        self.progress(1)

    async def _ask(self, payload: bytes) -> ProcessReleasesImported | CommandRejected:
        """The registry's answer; a transient failure is retried with the same command ids
        (nothing is stored twice), a few times."""
        subject = REGISTRY.command_subject(ImportProcessReleases.command_type)
        answer: ProcessReleasesImported | CommandRejected
        for attempt in range(ATTEMPTS):
            try:
                data = await self.request(subject, payload)
            except (TimeoutError, ConnectionError) as exc:  # the outcome is unknown: ask again
                answer = CommandRejected(code="UNAVAILABLE", message=f"no answer: {exc!r}")
            else:
                answer = _reply(data)
            if not (isinstance(answer, CommandRejected) and answer.code == "UNAVAILABLE"):
                return answer
            if attempt + 1 < ATTEMPTS:
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
        return answer


def _reply(data: bytes) -> ProcessReleasesImported | CommandRejected:
    body = json.loads(data)
    if body.get("status") == "imported":
        return ProcessReleasesImported.model_validate(body)
    return CommandRejected.model_validate(body)


__all__ = ["Problem", "Report", "import_items"]
