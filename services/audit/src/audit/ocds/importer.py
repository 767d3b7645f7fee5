"""Import published OCDS data: validate, map, send to the registry, report.

Releases of one process are imported in date order, one after the other (each is compared
with the process compiled before it), many in one message (`ImportProcessReleases`, executed
by the registry as the releases' own commands in order); processes go concurrently, and the
messages of the processes in flight go to the registry together (`ImportReleaseGroup`: a
group commit, their events appended in one atomic batch). A
release that fails the 1.1.5 schema, cannot be mapped or is refused by the registry is
reported with its JSON path and reason and skipped; the rest are imported. The same release
imported again sends the same command ids, which the registry answers as duplicates:
nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import nats.errors
import ocdsmerge
from ocdsmerge.flatten import unflatten
from pydantic import ValidationError

from audit.ocds.importer_map import (
    Mapped,
    ProcessState,
    Unmappable,
    command_id,
    contract_id_of,
    ident,
    map_release,
    recover_holders,
    refused_field,
    shown_start,
    tender_id_of,
)
from audit.ocds.importer_read import Item
from audit.ocds.importer_recorded import RecordedReader
from audit.ocds.importer_reply import GroupAnswer, ProcessAnswer
from audit.ocds.ocid_prefix import ocid_prefix
from audit.ocds.packages import merger
from audit.ocds.schemas import errors
from contracts_schema.folds import FOLDS
from contracts_schema.registry.import_commands import (
    CommandCounted,
    CountedReleaseOutcome,
    ImportedRelease,
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ImportReleaseGroup,
    ProcessReleasesCounted,
    ProcessReleasesImported,
    ReleaseGroupCounted,
    ReleaseGroupImported,
)
from contracts_schema.registry.state import ContractState, ContractStatus, LotStatus, TenderState
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import COMMAND_PARTITIONS, REGISTRY
from eventstore.collector import SERVING_THRESHOLDS
from eventstore.ports import EventStorePort

log = logging.getLogger(__name__)

# A command message in, the reply's bytes out: NATS request/reply, or `handle` in-process.
Request = Callable[[str, bytes], Awaitable[bytes]]
GROUP = 64  # processes per ImportReleaseGroup message (its events: one atomic append)
CONCURRENCY = 2 * GROUP  # processes in flight: one group is mapped while one is stored
# A group goes before it is full when fewer than PIPELINE groups are with the registry and
# MIN_GROUP processes wait (IDLE_GROUP when none is): the registry starts deciding while the
# importer maps the rest (at the start, and whenever it has caught up), and groups grow to
# GROUP while it is busy.
MIN_GROUP = 16
PIPELINE = 2
# With no group at the registry it idles: a group goes as soon as IDLE_GROUP processes wait
# (at the start the first 16 mappings were the registry's idle time; a small group costs it
# a few reads and one append more, while it had nothing else to do).
IDLE_GROUP = 4
BATCH = 50  # releases per ImportProcessReleases message
MAX_MESSAGE = 900_000  # bytes; NATS refuses messages over its max_payload (1 MB by default)
# A group's reply names every command's events: about as large as the group itself, up to
# half as large again for commands of few facts; so a group stays well under max_payload.
MAX_GROUP_MESSAGE = 400_000
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
    # Each release not recorded: failing the schema, unmappable, carrying a change no fact
    # can carry (import25: `NOT_RECORDABLE`, refused whole), or refused by the registry.
    skipped: list[Problem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.imported + self.duplicates + len(self.skipped)

    def summary(self) -> str:
        return (f"imported {self.imported}, skipped {len(self.skipped)}, duplicates"
                f" {self.duplicates} ({self.events} events appended)")  # fmt: skip


def prepare() -> None:
    """Load what every import needs once per process: the OCDS merge rules (`ocdsmerge`
    derives them from the patched release schema, ~15-30 ms) and the compiled schema
    validator (~5-20 ms). Called at the start of a run, beside the module imports, so the
    first process's turn does not pay them while the registry waits for its first group;
    `import_items` works without it (each is loaded on first use)."""
    merger()
    # (the compiled validator is made on first use; a valid release asks only it)
    _schema_problem(_SMALLEST_RELEASE)


@contextlib.contextmanager
def collector_for_import() -> Iterator[None]:
    """The cyclic collector as a command service process has it (`SERVING_THRESHOLDS`), for
    the duration of an import run; as it was afterwards.

    An import allocates young objects by the million (each release parsed, flattened, merged,
    mapped; a command and a reply per release), nearly all freed by reference counting. At
    CPython's default (a young collection every 700 allocations) the importer ran ~80 young,
    7 middle and about one full collection per 800 releases, a full one walking everything the
    process holds with its event loop stopped while the registry waited for the next group:
    0.18-0.22 ms of importer CPU per event against 0.13-0.18 with these thresholds (import14,
    `python -m bench.import_timeline --collector`). Only the thresholds: nothing is frozen
    (the CLI also runs inside test processes, which must collect what they build).

    Runs that overlap in one process (two threads importing) share one setting: the first in
    saves the thresholds, the last out restores them (a saved value per run would let the one
    leaving last restore the serving thresholds for good: review17 #5)."""
    with _collector_lock:
        if _collector_users[0] == 0:
            _collector_before[:] = [gc.get_threshold()]
            gc.set_threshold(*SERVING_THRESHOLDS)
        _collector_users[0] += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users[0] -= 1
            if _collector_users[0] == 0:
                gc.set_threshold(*_collector_before.pop())


_collector_lock = threading.Lock()
_collector_users = [0]  # import runs inside `collector_for_import` now, in this process
_collector_before: list[tuple[int, ...]] = []  # the thresholds the first of them found


# A valid release with only what the schema requires.
_SMALLEST_RELEASE = {"ocid": "ocds-213czf-1", "id": "1", "date": "2020-01-01T00:00:00Z",
                     "tag": ["planning"], "initiationType": "tender"}  # fmt: skip


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
        procedure=t.procedure or "",
        procedure_stated=t.procedure_stated,
        plan_period=t.tender_period_planned_on,
        # import20: what a later release restates; import30: None where not stated
        title=t.title if t.title_stated else None,
        start=shown_start(t.published_on, t.published_on_stated, t.tender_period_planned_on),
        lot_titles={lot.lot_id: lot.title if lot.title_stated else None for lot in t.lots},
        lots={lot.lot_id: _LOT.get(lot.status, "open") for lot in t.lots},
        suppliers={lot.lot_id: list(lot.supplier_ids) for lot in t.lots},
        # import25: the published award holding each lot, as recorded with its award
        holders={
            lot.lot_id: lot.source_award_id
            for lot in t.lots
            if lot.source_award_id and _LOT.get(lot.status) in ("provisional", "awarded")
        },
        # import28: the day its award was recorded with (a later run's restatement lacks it)
        award_days={
            lot.lot_id: day
            for lot in t.lots
            if (day := _award_day(lot.status, lot.awarded_on, lot.decision_sent_on)) is not None
        },
    )


def _award_day(status: LotStatus, awarded: date | None, decided: date | None) -> date | None:
    """The day of a lot's award as published: the definitive award's, else the decision's."""
    if status is LotStatus.AWARDED and awarded is not None:
        return awarded
    return decided if status in (LotStatus.AWARDED, LotStatus.PROVISIONALLY_AWARDED) else None


def recorded_contract(c: ContractState) -> dict[str, Any]:
    value = None if c.value_eur is None else float(c.value_eur)
    status = "terminated" if c.status is ContractStatus.TERMINATED else "active"
    return {"end": c.end_date if c.end_stated else None, "extent": c.max_extent_date,
            "value": value, "status": status,
            "signed": c.signed_on if c.signed_on_stated else None,
            "start": c.start_date if c.start_stated else None,
            "suppliers": tuple(sorted(x.supplier_id for x in c.suppliers))}  # fmt: skip


async def import_items(
    items: Iterable[Item],
    request: Request,
    store: EventStorePort,
    progress: Callable[[int], None] = lambda n: None,
    *,
    partition_request: Request | None = None,
) -> Report:
    """Import every readable release; `request(subject, payload)` answers a command message
    with the reply's bytes (NATS request/reply, or a service's `handle` in-process).
    `partition_request` (default: `request`) sends a group on a command partition's subject:
    it raises `nats.errors.NoRespondersError` at once when nobody serves the partition (the
    group then goes on the unpartitioned subject through `request`)."""
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
    group = _Group(request, partition_request or request)
    turns = asyncio.Lock()
    recorded = RecordedReader(store)

    async def one_process(releases: list[Item]) -> None:
        async with limit:
            group.started()
            try:
                await _Process(releases, group.ask, recorded, report, progress, turns).run()
            finally:
                group.finished()

    await asyncio.gather(*(one_process(r) for r in processes.values()))
    return report


def _not_before(earlier: Any, later: Any) -> bool:
    """Whether `later` stays after `earlier` in the library's sort by date (`sorted_releases`:
    `sorted` by `release["date"]`, stable): its date is not less than `earlier`'s. False
    where the sort would fail (a release without a date, a date it cannot compare)."""
    try:
        return not later["date"] < earlier["date"]
    except (KeyError, TypeError, IndexError):
        return False


class _Compiling:
    """`ocdsmerge`'s compiled release of releases taken one after another, each new one merged
    onto the last (what `create_compiled_release` of them all does when they come sorted by
    date: it merges them in that order); compiled afresh by `create_compiled_release` when
    they do not come so.

    Merged in order, a release's top-level field equal to the last merged release's merges
    nothing new (the merge overwrites each flattened path with the same value): only the
    fields that differ are flattened and merged, and only their sections of the compiled
    release unflattened again; the other sections are the last compiled release's. A
    publisher restates most of a process in each release (parties, buyer, tender), so most
    of the flattening and unflattening is skipped (the library's own `flatten`/`unflatten`
    on what changed: the same result, tests/unit/audit/test_ocds_incremental_compile.py).
    The compiled releases returned share those sections: read them, never change them."""

    # Set by the merge itself on every release (`CompiledRelease.flat_append`).
    _ALWAYS = frozenset({"ocid", "id", "date", "tag"})

    def __init__(self, releases: list[dict[str, Any]]) -> None:
        self.releases = list(releases)
        # Whether `releases` come sorted by date (as the library's stable sort leaves them).
        self._sorted = all(map(_not_before, self.releases, self.releases[1:]))
        self._next_sorted = False
        self._merged: ocdsmerge.merge.CompiledRelease | None = None
        self._view: dict[str, Any] | None = None  # `_merged` unflattened
        self._next: ocdsmerge.merge.CompiledRelease | None = None
        self._next_view: dict[str, Any] | None = None

    def with_release(self, release: dict[str, Any]) -> dict[str, Any]:
        self._next = self._next_view = None
        # In the order the library sorts them (`sorted_releases`, a stable sort by date):
        # the releases so far were, and this one's date is not before the last one's. A date
        # the sort cannot compare (missing, null, not text) is the full compile's error.
        in_order = self._sorted and (not self.releases or _not_before(self.releases[-1], release))
        self._next_sorted = in_order
        compiled: dict[str, Any]
        if not in_order:
            compiled = merger().create_compiled_release([*self.releases, release])
            return compiled
        if self._merged is None:
            self._merged = self._fresh()
            self._merged.extend(self.releases)
            self._view = None
        # In order: the releases so far are sorted, and the last one was merged last.
        last = self.releases[-1] if self.releases else None
        changed = {
            k: v
            for k, v in release.items()
            if last is None or k in self._ALWAYS or k not in last or last[k] != v
        }
        grown = self._fresh()
        grown.data = dict(self._merged.data)  # flat: the merge replaces values, never edits
        grown.append(changed)
        if self._view is None:
            compiled = grown.asdict()
        else:
            compiled = dict(self._view)
            sections = set(changed) - {"tag"}
            parts = unflatten({k: v for k, v in grown.data.items() if k[0] in sections})
            for section in sections:
                if section in parts:
                    compiled[section] = parts[section]
                else:  # (every value under it null: the library omits it)
                    compiled.pop(section, None)
        self._next, self._next_view = grown, compiled
        return compiled

    def take(self, release: dict[str, Any]) -> None:
        """`release` is accepted: the next one is merged onto it."""
        # None: merged afresh when next asked
        self._merged, self._next = self._next, None
        self._view, self._next_view = self._next_view, None
        self._sorted, self._next_sorted = self._next_sorted, False
        self.releases.append(release)

    @staticmethod
    def _fresh() -> ocdsmerge.merge.CompiledRelease:
        rules = merger()
        return ocdsmerge.merge.CompiledRelease(
            merge_rules=rules.merge_rules, rule_overrides=rules.rule_overrides
        )


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
        ask: Ask,
        recorded: RecordedReader,
        report: Report,
        progress: Callable[[int], None],
        turns: asyncio.Lock,
    ) -> None:
        # Valid time order; a release id seen twice (here or in the registry) is one release.
        self.items = sorted(
            items, key=lambda i: str(i.release.get("date", "")) if i.release else ""
        )
        self.ocid = str(self.items[0].release["ocid"]) if self.items[0].release else ""
        self.ask = ask
        self.recorded = recorded
        self.report = report
        self.progress = progress
        self.turns = turns  # one process maps at a time, one per loop turn
        self.state = ProcessState()
        self.seen: set[str] = set()
        self.recorded_ids: frozenset[str] = frozenset()  # by earlier runs
        self.accepted: list[dict[str, Any]] = []
        self.compiled_ids: set[str] = set()  # the ids of `accepted`

    async def run(self) -> None:
        # What the registry recorded first (one question for all the processes in flight),
        # then each release validated in this process's turn, just before it is mapped: the
        # first processes' group goes while the later ones still wait for their turn,
        # instead of after every process in flight has validated every release.
        own, _ = await asyncio.gather(self._own(), self._recorded())
        if own is not None:
            for item in self.items:
                self._skip(Problem(f"{item.path}.ocid", own))
            return
        pending = self.items
        first = True
        while pending:
            async with self.turns:
                if first:
                    first = False
                    pending = self._valid(pending)
                batch, pending = self._map(pending)
                # Held one loop turn more: the group sends and the connection's writes that
                # the mapping queued run before the next process maps (else a full group is
                # written only after every process whose reads answered meanwhile).
                await asyncio.sleep(0)
            if batch:
                pending = [*await self._send(batch), *pending]

    def _valid(self, items: list[Item]) -> list[Item]:
        """The releases valid against the schema; each other one reported and skipped."""
        valid = []
        for item in items:
            assert item.release is not None
            problem = _schema_problem(item.release)
            if problem is None:
                valid.append(item)
            else:
                self._skip(Problem(item.path, problem))
        return valid

    async def _own(self) -> str | None:
        """Why the process is this registry's own publication, or None. Its export names a
        process of its own `<its ocid prefix>-<process id>` (a tender, a contract without a
        tender, a call-off); imported back, such a release would record that process a
        second time, as an imported twin under the same ocid (docs/ocds-import.md, "Our
        own export"). A process is this registry's own when it was recorded here, not
        imported (an imported one exports under its source ocid, whatever its id)."""
        mine = f"{ocid_prefix()}-"  # this deployment's (GT_OCDS_OCID_PREFIX)
        if not self.ocid.startswith(mine):
            return None
        pid = self.ocid[len(mine) :]
        if not pid or ident(pid) != pid:  # not an id this registry gives
            return None
        tender, contract, call_off = await asyncio.gather(
            self.recorded.folded(FOLDS["registry", "tender"], pid),
            self.recorded.folded(FOLDS["registry", "contract"], pid),
            self.recorded.folded(FOLDS["enrolment", "call_off"], pid),
        )
        if tender.exists and tender.source_ocid is None:
            what = f"tender {pid}"
        elif contract.exists and contract.source_ocid is None:
            what = f"contract {pid}"
        elif call_off.exists:
            what = f"call-off {pid}"
        else:
            return None
        return (f"OWN_PUBLICATION: {self.ocid} is this registry's own publication of {what},"
                f" recorded here already; imported, it would be a second process under the"
                f" same ocid")  # fmt: skip

    async def _recorded(self) -> None:
        """What the registry recorded of this process before (a re-run starts there)."""
        cids = {contract_id_of(self.ocid, str(c.get("id"))) for i in self.items if i.release
                for c in i.release.get("contracts", []) if isinstance(c, dict)}  # fmt: skip
        contract_fold = FOLDS["registry", "contract"]
        tender, *contracts = await asyncio.gather(
            self.recorded.folded(FOLDS["registry", "tender"], tender_id_of(self.ocid)),
            *(self.recorded.folded(contract_fold, cid) for cid in sorted(cids)),
        )
        self.state = recorded_state(tender)
        self.seen = set(tender.source_release_ids)
        self.recorded_ids = frozenset(self.seen)
        for cid, known in zip(sorted(cids), contracts, strict=True):
            if known.exists:
                self.state.contracts[cid] = recorded_contract(known)

    def _map(self, pending: list[Item]) -> tuple[list[tuple[Item, Mapped]], list[Item]]:
        """Map releases on top of each other until a batch is full: (batch, the rest)."""
        batch: list[tuple[Item, Mapped]] = []
        state, compiled_from = self.state, _Compiling(self.accepted)
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
                # Recorded by an earlier run: compiled still, so the releases after it are
                # mapped on the process as published (import24; the tally is the registry's).
                # Once: a copy of a release compiled already (accepted in this run, or the
                # earlier run's release listed twice) is a duplicate only, as it was before
                # import24 (an award only in that copy would be recorded with the next one).
                if rid in self.recorded_ids and rid not in self.compiled_ids:
                    try:
                        recover_holders(state, compiled_from.with_release(release))
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning(
                            "%s: release %s (recorded by an earlier run) not compiled with"
                            " the releases after it: %r", item.path, rid, exc,
                        )  # fmt: skip
                        continue
                    compiled_from.take(release)
                    self._compiled(release)
                continue
            try:
                compiled = compiled_from.with_release(release)
                mapped = map_release(release, compiled, state, item.source.publisher,
                                     item.source.uri)  # fmt: skip
            except Unmappable as exc:
                self._skip(Problem(f"{item.path}.{exc.path}", exc.reason))
                continue
            except ValidationError as exc:  # a mapped value a command refuses (correct21)
                self._skip(Problem(*refused_field(item.path, release, exc)))
                continue
            except (ValueError, KeyError, TypeError) as exc:
                self._skip(Problem(item.path, f"cannot be mapped: {exc!r}"))
                continue
            batch.append((item, mapped))
            compiled_from.take(release)
            ids.add(rid)
            state = mapped.state
        return batch, []

    def _compiled(self, release: dict[str, Any]) -> None:
        """`release` is part of the process as compiled from now on."""
        self.accepted.append(release)
        self.compiled_ids.add(str(release["id"]))

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
        who = actor(batch[0][0].source.publisher)
        body = command.model_dump_json().encode()  # (once: a group message embeds it as is)
        payload = _request(command.command_type, body, who)
        if len(payload) > MAX_MESSAGE:
            if len(batch) > 1:  # send the first half; the rest is mapped again after it
                half = len(batch) // 2
                return [*await self._send(batch[:half]), *(i for i, _ in batch[half:])]
            item = batch[0][0]
            self._skip(Problem(item.path, f"its facts ({len(payload):,} bytes) exceed the"
                               f" largest command message ({MAX_MESSAGE:,} bytes)"))  # fmt: skip
            return []
        answer = await self._ask(_Message(command, body), who, len(payload))
        if isinstance(answer, CommandRejected) or not answer.releases:  # the batch as a whole
            why = (f"{answer.code}: {answer.message}" if isinstance(answer, CommandRejected)
                   else "the registry answered for none of these releases")  # fmt: skip
            for item, _ in batch:
                self._skip(Problem(item.path, why))
            return []
        outcomes: Sequence[ImportedReleaseOutcome | CountedReleaseOutcome] = answer.releases
        for n, ((item, mapped), outcome) in enumerate(zip(batch, outcomes, strict=False)):
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
        self, item: Item, mapped: Mapped, outcome: ImportedReleaseOutcome | CountedReleaseOutcome
    ) -> None:
        assert item.release is not None
        self._compiled(item.release)
        self.seen.add(str(item.release["id"]))
        self.state = mapped.state
        accepted = [r for r in outcome.replies if not isinstance(r, CommandRejected)]
        if all(r.duplicate for r in accepted):
            self.report.duplicates += 1
        else:
            self.report.imported += 1
            self.report.events += sum(_appended(r) for r in accepted)
        self.progress(1)

    async def _ask(self, command: _Message, actor: str, size: int) -> Answer:
        """The registry's answer; a transient failure is retried with the same command ids
        (nothing is stored twice), a few times."""
        answer: Answer
        for attempt in range(ATTEMPTS):
            answer = await self.ask(command, actor, size)
            if not (isinstance(answer, CommandRejected) and answer.code == "UNAVAILABLE"):
                return answer
            if attempt + 1 < ATTEMPTS:
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
        return answer


Answer = ProcessReleasesImported | ProcessReleasesCounted | CommandRejected


class _Message(NamedTuple):
    command: ImportProcessReleases
    body: bytes  # its JSON form


Ask = Callable[[_Message, str, int], Awaitable[Answer]]


def _request(command_type: str, command: bytes, actor: str) -> bytes:
    """A CommandRequest's JSON form around a command's own JSON form (not parsed again)."""
    kind, who = json.dumps(command_type), json.dumps(actor, ensure_ascii=False)
    return b'{"command_type":%s,"command":%s,"actor":%s}' % (kind.encode(), command, who.encode())


@dataclass
class _Waiting:
    command: _Message
    size: int  # bytes of its own message
    answer: asyncio.Future[Answer]


class _Group:
    """Gathers the messages of the processes in flight into `ImportReleaseGroup` messages.

    A group is sent once it is full (GROUP processes, or MAX_GROUP_MESSAGE bytes), or as soon as
    every process in flight waits for an answer: no clock, no process waits for one that is
    still mapping. A message of one process goes as `ImportProcessReleases`.

    Groups go to the registry's command partitions in turn (`registry.commands.<p>.…`): each
    partition is served by one registry process, so with several processes consecutive groups
    are decided on different processes (a queue group would pick at random, often the busy
    one). A partition nobody serves (its process just stopped) answers "no responders": that
    group goes on the unpartitioned subject, where any process takes it. A group's processes
    are all different aggregates from any other group's, so any process may take any group."""

    def __init__(self, request: Request, partition_request: Request) -> None:
        self._request = request
        self._partition_request = partition_request
        self._active = 0  # processes running
        self._blocked = 0  # of which waiting for an answer (queued, or sent)
        self._queues: dict[str, list[_Waiting]] = {}  # per actor (one per request)
        self._sending: set[asyncio.Task[None]] = set()
        self._turns = itertools.count()
        # Groups ask for the counted answer (`ReleaseGroupCounted`) until a registry that
        # does not know it refuses one.
        self._counts = True

    def started(self) -> None:
        self._active += 1

    def finished(self) -> None:
        self._active -= 1
        self._flush(every=self._blocked >= self._active)

    async def ask(self, command: _Message, actor: str, size: int) -> Answer:
        queue = self._queues.setdefault(actor, [])
        if queue and sum(w.size for w in queue) + size > MAX_GROUP_MESSAGE:
            self._send(actor)
            queue = self._queues.setdefault(actor, [])
        waiting = _Waiting(command, size, asyncio.get_running_loop().create_future())
        queue.append(waiting)
        if len(queue) >= self._enough():
            self._send(actor)
        self._blocked += 1
        try:
            self._flush(every=self._blocked >= self._active)
            return await waiting.answer
        finally:
            self._blocked -= 1

    def _flush(self, every: bool) -> None:
        if every:
            for actor in list(self._queues):
                self._send(actor)

    def _send(self, actor: str) -> None:
        waiting = self._queues.pop(actor, [])
        if waiting:
            task = asyncio.ensure_future(self._answer(actor, waiting))
            self._sending.add(task)
            task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Task[None]) -> None:
        """A group answered: one waiting may go now (the registry has room)."""
        self._sending.discard(task)
        for actor, queue in list(self._queues.items()):
            if len(queue) >= self._enough():
                self._send(actor)

    def _enough(self) -> int:
        """How many waiting processes make a group now: IDLE_GROUP when the registry has
        none, MIN_GROUP when it has room for one more, else a full GROUP."""
        if not self._sending:
            return min(IDLE_GROUP, MIN_GROUP, GROUP)
        return min(MIN_GROUP, GROUP) if len(self._sending) < PIPELINE else GROUP

    async def _answer(self, actor: str, waiting: list[_Waiting]) -> None:
        try:
            answers = await self._exchange(actor, [w.command for w in waiting])
        except BaseException as exc:
            for w in waiting:
                if not w.answer.done():
                    w.answer.set_exception(exc)
            return
        for w, answer in zip(waiting, answers, strict=True):
            if not w.answer.done():
                w.answer.set_result(answer)

    async def _exchange(self, actor: str, messages: list[_Message]) -> list[Answer]:
        one = len(messages) == 1
        commands = [m.command for m in messages]
        body = messages[0].body
        counts = not one and self._counts
        if not one:  # an ImportReleaseGroup's JSON form, each process's as it was made
            ids = "\n".join(c.command_id for c in commands)
            group_id = json.dumps(command_id("group", ids, "group")).encode()
            each = b",".join(m.body for m in messages)
            answer = b',"answer":"counts"' if counts else b""
            body = b'{"command_id":%s,"processes":[%s]%s}' % (group_id, each, answer)
        kind = ImportProcessReleases if one else ImportReleaseGroup
        payload = _request(kind.command_type, body, actor)
        data: bytes | None = None
        try:
            if not one:  # (one process's message: any registry process)
                partition = next(self._turns) % COMMAND_PARTITIONS
                subject = REGISTRY.partitioned_command_subject(kind.command_type, partition)
                with contextlib.suppress(nats.errors.NoRespondersError):
                    data = await self._partition_request(subject, payload)
            if data is None:
                data = await self._request(REGISTRY.command_subject(kind.command_type), payload)
        except (TimeoutError, ConnectionError) as exc:  # the outcome is unknown: ask again
            return [CommandRejected(code="UNAVAILABLE", message=f"no answer: {exc!r}")] * len(
                commands
            )
        group: ReleaseGroupImported | ReleaseGroupCounted
        if not one and data.startswith(b'{"status":"imported",'):  # the registry's form
            # (parsed once, as models)
            group = (ReleaseGroupCounted if counts else GroupAnswer).model_validate_json(data)
        else:
            reply = json.loads(data)
            if reply.get("status") != "imported":
                refused = CommandRejected.model_validate(reply)
                if counts and _answer_unknown(refused):
                    # A registry older than `answer` refused the group whole (nothing of it
                    # stored): it and every later group ask for the replies instead.
                    self._counts = False
                    return await self._exchange(actor, messages)
                return [refused] * len(commands)
            if one:
                return [ProcessAnswer.model_validate(reply)]
            group = (ReleaseGroupCounted if counts else GroupAnswer).model_validate(reply)
        if len(group.processes) != len(commands):
            why = f"the registry answered for {len(group.processes)} of {len(commands)} processes"
            return [CommandRejected(code="INTERNAL_ERROR", message=why)] * len(commands)
        return list(group.processes)


def _appended(reply: CommandAccepted | CommandCounted) -> int:
    """How many events an accepted command appended (or had, when a duplicate)."""
    return reply.events if isinstance(reply, CommandCounted) else len(reply.events)


def _answer_unknown(refused: CommandRejected) -> bool:
    """Whether a group was refused for its `answer` field alone: a registry from before it
    (`extra="forbid"`: "invalid ImportReleaseGroup: answer: Extra inputs are not permitted")."""
    return refused.code == "INVALID_COMMAND" and refused.message.startswith(
        "invalid ImportReleaseGroup: answer: Extra inputs"
    )


__all__ = ["Problem", "Report", "import_items", "prepare"]
