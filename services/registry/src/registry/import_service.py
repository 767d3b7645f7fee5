"""The registry CommandService, plus the import of published releases in few messages.

An imported release is one `RecordImportedTenderRelease` and a `RecordImportedContractRelease`
per contract it changed: five or six commands for an ordinary process. Sent one by one, each
pays a request, a reply and the subscriber's work; `ImportProcessReleases` carries them all
and they are executed here, in order, each exactly as if it had been sent alone (its own
command id, valid time, idempotency record and provenance; caused by the batch). The first
refused release ends the batch: the importer mapped the later ones on top of it.

`ImportReleaseGroup` carries many processes (a group commit): each is decided as its own
`ImportProcessReleases` would be, on a `StagedStore` (the same routes, rules, provenance and
idempotency lookups; its appends staged), and the events of all of them go to the stream in
one atomic append per thousand events, each aggregate guarded by the sequence its decisions
were made on. Their processed-command records are written afterwards, with the stored
sequences. A process with a refused release, too many events, an aggregate shared with
another process of the group, or whose append fails (another writer moved an aggregate) is
executed on its own afterwards, as `ImportProcessReleases`: nothing of it was stored, so its
answer is the one it would have had alone.

A fresh process (its aggregates new, its command ids recorded nowhere) is staged through the
bulk-record lane (`import_lane`): the same decisions, findings, sealing and records, without
the general command path per command; anything else is staged the general way.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError

from contracts_schema.base import Command
from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ImportReleaseGroup,
    ProcessReleasesImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.commands import (
    RECORD_TIMEOUT,
    CommandService,
    consistency_token,
    failure_reply,
)
from eventstore.errors import AppendFailed, ConcurrencyConflict
from eventstore.fast_json import json_bytes
from eventstore.group_append import (
    MAX_BATCH,
    PROVISIONAL,
    GroupedEvent,
    Positioned,
    StagedStore,
)
from eventstore.group_commit import Held, held_records, staged_twin
from eventstore.ports import GroupAppender, ProcessedCommands
from eventstore.records import CommandMetadata, StoredEvent
from eventstore.store import EventStore
from eventstore.with_events import with_events
from registry import import_lane

IMPORT_SUBJECT = REGISTRY.command_subject(ImportProcessReleases.command_type)
GROUP_SUBJECT = REGISTRY.command_subject(ImportReleaseGroup.command_type)
# The group's bound, as the published schema states it (`Field(max_length=...)`).
MAX_PROCESSES: int = next(
    m.max_length
    for m in ImportReleaseGroup.model_fields["processes"].metadata
    if getattr(m, "max_length", None) is not None
)

log = logging.getLogger(__name__)


class RegistryCommandService(CommandService):
    """Made by `bootstrap.parts` from `registry.app.COMMANDS`."""

    @property
    def command_types(self) -> list[str]:
        extra = [ImportProcessReleases.command_type, ImportReleaseGroup.command_type]
        return sorted([*super().command_types, *extra])

    async def handle(self, subject: str, data: bytes) -> bytes:
        reply: ProcessReleasesImported | CommandRejected | _Built
        # By its last token: the subject may carry a partition (`registry.commands.<p>.<type>`).
        command_type = subject.rsplit(".", 1)[-1]
        try:
            if command_type == ImportProcessReleases.command_type:
                reply = await self._import(data)
            elif command_type == ImportReleaseGroup.command_type:
                reply = await self._import_group(data)
            else:
                return await super().handle(subject, data)
            # Serialised here, inside the handling: a reply that cannot be is answered as a
            # failure (the importer is not left waiting for its timeout).
            return reply.json() if isinstance(reply, _Built) else reply.model_dump_json().encode()
        except Exception as exc:
            return failure_reply(subject, exc).model_dump_json().encode()

    async def _import(self, data: bytes) -> ProcessReleasesImported | CommandRejected:
        try:
            request = CommandRequest.model_validate_json(data)
            batch = ImportProcessReleases.model_validate(request.command)
        except ValidationError as exc:
            return _invalid("ImportProcessReleases", exc)
        return await self._import_process(self, batch, request)

    async def _import_process(
        self, service: CommandService, batch: ImportProcessReleases, request: CommandRequest
    ) -> ProcessReleasesImported:
        """The process's releases executed in order on `service` (this one, or one deciding
        on a `StagedStore`), until the first refused one."""
        outcomes: list[ImportedReleaseOutcome] = []
        for release in batch.releases:
            replies: list[CommandAccepted | CommandRejected] = []
            for command in (release.tender, *release.contracts):
                reply = await _execute_one(service, command, request, batch)
                replies.append(reply)
                if isinstance(reply, CommandRejected):
                    break
            outcome = ImportedReleaseOutcome(release_id=release.release_id, replies=replies)
            outcomes.append(outcome)
            if outcome.refused is not None:
                break
        return ProcessReleasesImported(command_id=batch.command_id, releases=outcomes)

    # The group commit.

    async def _import_group(self, data: bytes) -> _Built | CommandRejected:
        whole = _whole_group(data)
        if whole is not None:  # all of it valid: validated in one pass, straight from JSON
            valid = list(enumerate(whole[1].processes))
            return await self._import_valid(*whole, valid, [None] * len(valid))
        try:
            request = CommandRequest.model_validate_json(data)
            raw = request.command
            processes = raw.get("processes")
            if not isinstance(processes, list):
                processes = None  # the header's validation below names the problem
            group = ImportReleaseGroup.model_validate({**raw, "processes": []})
            if processes is None:
                ImportReleaseGroup.model_validate(raw)
        except ValidationError as exc:
            return _invalid("ImportReleaseGroup", exc)
        if processes is not None and len(processes) > MAX_PROCESSES:  # (validated as [] above)
            return CommandRejected(
                code="INVALID_COMMAND",
                message=f"invalid ImportReleaseGroup: processes: {len(processes)} processes,"
                f" at most {MAX_PROCESSES} in one group",
            )
        # Each process is valid or refused on its own: one bad process spoils no other.
        answers: list[_Answer | None] = []
        batches: list[tuple[int, ImportProcessReleases]] = []
        for n, body in enumerate(processes or []):
            try:
                batches.append((n, ImportProcessReleases.model_validate(body)))
                answers.append(None)
            except ValidationError as exc:
                answers.append(_invalid(f"processes[{n}] (ImportProcessReleases)", exc))
        return await self._import_valid(request, group, batches, answers)

    async def _import_valid(
        self,
        request: CommandRequest,
        group: ImportReleaseGroup,
        batches: list[tuple[int, ImportProcessReleases]],
        answers: list[_Answer | None],
    ) -> _Built:
        """The group's valid processes imported; `answers` holds the refusals of the others."""
        if not isinstance(self._store, GroupAppender) or self._processed is None:
            for n, batch in batches:  # no group commit on this store: one by one
                answers[n] = await self._alone(batch, request)
        else:
            await self._group_commit(batches, request, answers)
        lost = CommandRejected(code="INTERNAL_ERROR", message="internal error: not answered")
        done = [lost if a is None else a for a in answers]  # (never: each has its answer)
        # A ReleaseGroupImported's JSON form, built from our own replies as they are (not
        # validated again): the processes staged and stored are dictionaries already.
        processes = [a.value if isinstance(a, _Built) else a.model_dump(mode="json") for a in done]
        if group.answer == "counts":  # a ReleaseGroupCounted: each accepted reply counted
            processes = [_counted(p) for p in processes]
        return _Built(
            {"status": "imported", "command_id": group.command_id, "processes": processes}
        )

    async def _group_commit(
        self,
        batches: list[tuple[int, ImportProcessReleases]],
        request: CommandRequest,
        answers: list[_Answer | None],
    ) -> None:
        known, empty, elsewhere = await asyncio.gather(
            self._recalled_together([b for _n, b in batches]),
            self._new_aggregates([b for _n, b in batches]),
            self._elsewhere_together([b for _n, b in batches]),
        )
        stream = self.context.stream
        new = frozenset((stream, t, i) for t, i in empty)  # as a staged store names them
        counted = Counter(
            c.command_id for _n, b in batches for r in b.releases for c in (r.tender, *r.contracts)
        )
        twice = {cid for cid, k in counted.items() if k > 1}
        recall = None if known is None else known.recall(self.context.name)
        staged = await asyncio.gather(
            *(
                self._stage(n, b, request, known, new, elsewhere)
                if not import_lane.fresh(self, b, new, recall, elsewhere, twice)
                else self._record_fresh(n, b, request, known, new, elsewhere)
                for n, b in batches
            )
        )
        alone: list[tuple[int, ImportProcessReleases]] = []
        commits: list[list[_StagedProcess]] = [[]]
        taken: set[tuple[str, str, str]] = set()
        for (n, batch), process in zip(batches, staged, strict=True):
            if process is None or process.keys & taken:
                alone.append((n, batch))  # refused, too large, or sharing an aggregate
                continue
            taken |= process.keys
            if process.count == 0:  # nothing new (a re-run): its answers are final
                repairs: list[tuple[str, bytes]] = []
                answers[n] = await self._recorded(process, 0, repairs)
                await self._record_all(repairs)
                continue
            if sum(p.count for p in commits[-1]) + process.count > MAX_BATCH:
                commits.append([])
            commits[-1].append(process)
        results = await asyncio.gather(*(self._commit(c) for c in commits if c))
        for committed in results:
            for process, answer in committed:
                if answer is None:
                    alone.append((process.index, process.batch))
                else:
                    answers[process.index] = answer
        # Alone, as the importer would have sent them: processes concurrently, a process's
        # messages (the same ocid twice in a group) one after the other, in order.
        by_process: dict[str, list[tuple[int, ImportProcessReleases]]] = {}
        for n, batch in sorted(alone, key=lambda t: t[0]):
            by_process.setdefault(batch.ocid, []).append((n, batch))

        async def in_order(messages: list[tuple[int, ImportProcessReleases]]) -> None:
            for n, batch in messages:
                answers[n] = await self._alone(batch, request)

        await asyncio.gather(*(in_order(m) for m in by_process.values()))

    async def _alone(
        self, batch: ImportProcessReleases, request: CommandRequest
    ) -> ProcessReleasesImported | CommandRejected:
        try:
            return await self._import_process(self, batch, request)
        except Exception as exc:
            return failure_reply(IMPORT_SUBJECT, exc)

    async def _recalled_together(self, batches: list[ImportProcessReleases]) -> _Recalled | None:
        """This context's processed-command records of the group's commands (each id, and
        under its pre-uniqueness key where the record may hold such keys, as `_recall` asks:
        `processed.LegacyKeys`), read together: one request instead of one or two per
        command. The other contexts' records are still read per key, for a command not
        found here (a service may only read them so: deploy/nats/accounts.conf). None when
        the record cannot be read together: each command then looks up its own, as alone."""
        ids = [c.command_id for b in batches for r in b.releases for c in (r.tender, *r.contracts)]
        legacy = self._legacy.possible()
        asked = [*ids, *(f"{self.context.name}.{i}" for i in ids)] if legacy else ids
        try:
            found = await _many(self._processed, asked)
        except Exception:
            return None
        # Written by this service a moment ago and not yet confirmed: as `_recall` answers.
        pending = {k: v for k in ids if (v := self._pending.get(k)) is not None}
        return _Recalled({**found, **pending}, set(asked), legacy)

    async def _elsewhere_together(
        self, batches: list[ImportProcessReleases]
    ) -> list[dict[str, bytes | None]]:
        """The other contexts' records of the group's command ids (command ids are unique
        across contexts), each record read for all of them at once (`LazyBucket.get_each`:
        Direct Gets all in flight; a missing bucket opened once, not once per command). A
        record that cannot be read so answers nothing: each command then reads it alone,
        as `_recall` does."""
        ids = [c.command_id for b in batches for r in b.releases for c in (r.tender, *r.contracts)]

        async def each(record: ProcessedCommands) -> dict[str, bytes | None]:
            get_each = getattr(record, "get_each", None)
            if get_each is None:
                return {}
            try:
                found: dict[str, bytes | None] = await get_each(ids, RECORD_TIMEOUT)
            except Exception:
                return {}
            return found

        return list(await asyncio.gather(*(each(r) for r in self._elsewhere)))

    async def _new_aggregates(
        self, batches: list[ImportProcessReleases]
    ) -> frozenset[tuple[str, str]]:
        """The aggregates (type, id) the group's commands address that have no event yet,
        asked together (a fresh import's aggregates: a multi-subject Direct Get per 64
        instead of a load each, `with_events`). Empty when that cannot be asked or is not
        answered whole: each is then loaded as alone. One written by another writer
        meanwhile (or missed by a replica a moment behind) fails its expected sequence (0)
        and its process goes alone."""
        if not isinstance(self._store, EventStore):
            return frozenset()
        addressed: set[tuple[str, str]] = set()
        for batch in batches:
            for release in batch.releases:
                for command in (release.tender, *release.contracts):
                    route = self._routes[command.command_type]
                    addressed.add((route.decider.aggregate_type, route.aggregate_id(command)))
        filters = {self.context.aggregate_filter(t, i): (t, i) for t, i in addressed}
        if any(not _PLAIN.match(f"{t}.{i}") for t, i in addressed):
            return frozenset()
        try:
            found = await with_events(self._store.nc, self.context.stream, sorted(filters))
        except Exception:  # a failed read: each is loaded, as alone
            return frozenset()
        if found is None:  # not answered whole: each is loaded, as alone
            return frozenset()
        return frozenset(a for f, a in filters.items() if f not in found)

    async def _stage(
        self,
        index: int,
        batch: ImportProcessReleases,
        request: CommandRequest,
        known: _Recalled | None,
        new: frozenset[tuple[str, str, str]] = frozenset(),
        elsewhere: list[dict[str, bytes | None]] | None = None,
    ) -> _StagedProcess | None:
        """The process decided on a staged store; None when it must go alone. `new`: the
        aggregates (stream, type, id) known to have no event yet."""
        from registry.routes import build_routes  # the same routes, reading the staged store

        store = StagedStore(self._store, new)
        assert self._processed is not None  # (a group commit needs a record: `_import_group`)
        own = self._processed if known is None else _Known(self._processed, *known.own())
        routes = [r for r in build_routes(store) if r.command.command_type in _IMPORTED]
        recalled = None if known is None else known.recall(self.context.name)
        staging = staged_twin(self, store, routes, own, recalled, elsewhere or [])
        try:
            reply = await self._import_process(staging, batch, request)
            await staging.drain()
        except Exception:
            return None  # alone, it meets (and answers) the same condition
        if any(o.refused is not None for o in reply.releases) or store.count > MAX_BATCH:
            return None
        events = store.events()
        keys = {(self.context.name, e.aggregate_type, e.aggregate_id) for e in events}
        return _StagedProcess(index, batch, reply, events, held_records(staging), keys)

    async def _record_fresh(
        self,
        index: int,
        batch: ImportProcessReleases,
        request: CommandRequest,
        known: _Recalled | None,
        new: frozenset[tuple[str, str, str]],
        elsewhere: list[dict[str, bytes | None]],
    ) -> _StagedProcess | None:
        """A fresh process through the bulk-record lane (`import_lane`); one the lane does
        not take is staged the general way."""
        store = StagedStore(self._store, new, self._store.sealer())
        try:
            recorded = await import_lane.record(self, store, batch, request)
        except Exception:
            # The general path answers it; logged, so that a broken lane is seen, not
            # silently switched off (its None is the expected "not for me").
            log.exception("the import lane failed on process %s; staged the general way", index)
            recorded = None
        if recorded is None:
            return await self._stage(index, batch, request, known, new, elsewhere)
        if store.count > MAX_BATCH:
            return None
        events = store.events()
        keys = {(self.context.name, e.aggregate_type, e.aggregate_id) for e in events}
        return _StagedProcess(index, batch, recorded, events, {}, keys)

    async def _commit(
        self, processes: list[_StagedProcess]
    ) -> list[tuple[_StagedProcess, _Built | None]]:
        """One atomic append of the processes' events; their answers (None: go alone)."""
        events = [e for p in processes for e in p.events]
        assert isinstance(self._store, GroupAppender)
        try:
            stored = await self._store.append_group(events)
        except Exception as exc:
            # Unknown (a timeout, a lost reply): the batch may be stored after all, and then
            # its processes are answered as imported, as a stored batch is. Moved by another
            # writer, appended before (a resend), or not found stored: alone, each process
            # reloads its aggregates and sees which.
            landed = None if _refused(exc) else await self._landed(events)
            if landed is None:
                for p in processes:
                    for key in p.keys:
                        self._cache.drop(key)
                return [(p, None) for p in processes]
            stored = landed
        answers: list[tuple[_StagedProcess, _Built | None]] = []
        records: list[tuple[str, bytes]] = []
        offset = 0
        for p in processes:
            first = stored[offset].seq if p.count else 0
            answers.append((p, await self._recorded(p, first, records)))
            for key in p.keys:
                self._cache.drop(key)  # our own cache has not seen these events
            offset += p.count
        await self._record_all(records)
        return answers

    async def _landed(self, events: list[GroupedEvent]) -> Sequence[StoredEvent] | None:
        """The group's events as stored, when every one of them is (an atomic batch: in
        order, from one sequence on), read again from their aggregates; None otherwise, or
        when that cannot be read."""
        if not events:
            return None
        context = events[0].context
        addressed = dict.fromkeys((e.aggregate_type, e.aggregate_id) for e in events)
        try:
            histories = await asyncio.gather(
                *(self._store.load(context, t, i) for t, i in addressed)
            )
        except Exception:
            return None
        found = {s.envelope.event_id: s for h in histories for s in h.events}
        mine = [found.get(e.envelope.event_id) for e in events]  # (sealed here: its own ids)
        stored = [s for s in mine if s is not None]
        if len(stored) < len(events):
            return None
        first = stored[0].seq
        if [s.seq for s in stored] != list(range(first, first + len(events))):
            return None
        return Positioned(events, stored[0].stream, first)

    async def _recorded(
        self, p: _StagedProcess, first: int, records: list[tuple[str, bytes]]
    ) -> _Built:
        """The process's answer (a ProcessReleasesImported's JSON form) with its events'
        stored sequences (from `first` on); its processed-command records, as `execute`
        writes them, added to `records`."""

        def real(seq: int) -> int:
            return first + seq - PROVISIONAL if seq >= PROVISIONAL else seq

        if isinstance(p.reply, import_lane.Recorded):
            return self._recorded_fresh(p.reply, real, records)

        # Each accepted reply's JSON form, its events at their stored sequences, built once
        # from our own values (not copied and validated again): the answer's, and without
        # `duplicate` the record's (as `_remember` writes it; a repair's events are stored
        # ones already, placed as they are).
        placed = {id(h.reply): _placed(h.reply, real) for h in p.held.values()}
        for key, held in p.held.items():
            reply = {k: v for k, v in placed[id(held.reply)].items() if k != "duplicate"}
            records.append((key, held.record(self.context.name, reply)))
        releases = [
            {
                "release_id": o.release_id,
                "replies": [
                    (placed.get(id(r)) or _placed(r, real))
                    if isinstance(r, CommandAccepted)
                    else r.model_dump(mode="json")
                    for r in o.replies
                ],
            }
            for o in p.reply.releases
        ]
        return _Built(
            {"status": "imported", "command_id": p.reply.command_id, "releases": releases}
        )

    def _recorded_fresh(
        self,
        recorded: import_lane.Recorded,
        real: Callable[[int], int],
        records: list[tuple[str, bytes]],
    ) -> _Built:
        """`_recorded` of a process the lane recorded: the same answer and records, built
        from its events as staged (`import_lane.placed_reply`)."""
        context = self.context.name
        releases = []
        for release_id, commands in recorded.releases:
            replies = []
            for command in commands:
                reply = import_lane.placed_reply(command.command_id, command.events, real)
                record = {k: v for k, v in reply.items() if k != "duplicate"}
                records.append((command.command_id, command.held.record(context, record)))
                replies.append(reply)
            releases.append({"release_id": release_id, "replies": replies})
        return _Built(
            {"status": "imported", "command_id": recorded.command_id, "releases": releases}
        )

    async def _record_all(self, records: list[tuple[str, bytes]]) -> None:
        """Write processed-command records as `_remember` does (answered from memory until
        each write is confirmed, a transient failure retried as always): each queued on the
        connection when this returns (`_sent`), so before the reply, as the record mirrors'
        protocol order needs (cmd21: through `write`, a task's later turn, a re-run's
        repaired records and a first group's went out after its reply)."""
        for key, data in records:
            self._pending[key] = data
            try:
                write = await self._sent(key, data)
            except BaseException:  # (cancelled while sending): not left in memory for good
                self._pending.pop(key, None)
                raise
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)


@dataclass(frozen=True)
class _Built:
    """A reply's JSON form, built here from our own values."""

    value: dict[str, Any]

    def json(self) -> bytes:
        return json_bytes(self.value)


_Answer = ProcessReleasesImported | CommandRejected | _Built


class _Position(NamedTuple):
    stream: str
    seq: int


_IMPORTED = {"RecordImportedTenderRelease", "RecordImportedContractRelease"}


@dataclass
class _StagedProcess:
    index: int  # in the group
    batch: ImportProcessReleases
    # With provisional sequences: the general path's reply, or what the lane recorded.
    reply: ProcessReleasesImported | import_lane.Recorded
    events: list[GroupedEvent]
    held: dict[str, Held]  # processed-command records to write, by command id
    keys: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class _Recalled:
    """This context's processed-command records of a group, read together: the values found
    and the keys asked."""

    found: dict[str, bytes]
    asked: set[str]
    legacy: bool = True  # the pre-uniqueness keys were asked too (they may exist)

    def own(self) -> tuple[dict[str, bytes], set[str]]:
        return self.found, self.asked

    def recall(self, context: str) -> Callable[[str], list[bytes | None] | None]:
        """A command id's records here (the id; its pre-uniqueness key where the record may
        hold one) in `CommandService._recall`'s order; None if not read."""

        def recalled(command_id: str) -> list[bytes | None] | None:
            if command_id not in self.asked:
                return None
            if not self.legacy:  # none in the record (`LegacyKeys`): `_recall` asks none
                return [self.found.get(command_id)]
            legacy = f"{context}.{command_id}"
            if legacy not in self.asked:
                return None
            return [self.found.get(command_id), self.found.get(legacy)]

        return recalled


async def _many(record: ProcessedCommands | None, keys: list[str]) -> dict[str, bytes]:
    get_many = getattr(record, "get_many", None)
    if get_many is None:
        raise TypeError(f"{type(record).__name__} is read one key at a time")
    found: dict[str, bytes] = await get_many(keys)
    return found


_PLAIN = re.compile(r"^[-_=a-zA-Z0-9]+\.[-_=a-zA-Z0-9]+$")  # one subject token each


class _Known:
    """A record as read together for the group: a key asked then is answered from that
    reading, any other from the record itself."""

    def __init__(self, record: ProcessedCommands | None, found: dict[str, bytes], asked: set[str]):
        self._record = record
        self._found = found
        self._asked = asked

    async def get(self, key: str) -> bytes | None:
        if key in self._asked:
            return self._found.get(key)
        return None if self._record is None else await self._record.get(key)

    async def put(self, key: str, value: bytes) -> None:
        raise PermissionError("a record read together is written through its owner")


DUPLICATE_MSG_ID = 10201  # JetStream: a Msg-Id of the batch was stored before


def _refused(exc: Exception) -> bool:
    """Whether a group append's error says nothing of it was stored (a conflict, a resend
    of what is there already), as opposed to an unknown outcome (a timeout, a lost reply)."""
    if isinstance(exc, ConcurrencyConflict):
        return True
    return isinstance(exc, AppendFailed) and (
        exc.code == DUPLICATE_MSG_ID or "appended before" in str(exc)
    )


def _counted(process: dict[str, Any]) -> dict[str, Any]:
    """A process's answer (a ProcessReleasesImported's or CommandRejected's JSON form) as a
    ReleaseGroupCounted holds it: each accepted reply as a `CommandCounted`."""
    if process.get("status") != "imported":
        return process  # a refusal, in full
    releases = [
        {"release_id": o["release_id"], "replies": [_count(r) for r in o["replies"]]}
        for o in process["releases"]
    ]
    return {"status": "imported", "command_id": process["command_id"], "releases": releases}


def _count(reply: dict[str, Any]) -> dict[str, Any]:
    """A command's reply as a `CommandCounted` (accepted) or as it is (refused)."""
    if reply.get("status") != "accepted":
        return reply
    return {
        "status": "accepted",
        "command_id": reply["command_id"],
        "events": len(reply["events"]),
        "duplicate": reply.get("duplicate", False),
    }


def _placed(reply: CommandAccepted, real: Callable[[int], int]) -> dict[str, Any]:
    """An accepted reply's JSON form, its events at their stored sequences."""
    events = [{**e.__dict__, "seq": real(e.seq)} for e in reply.events]
    positions = [_Position(e["stream"], e["seq"]) for e in events]
    return {
        "status": "accepted",
        "command_id": reply.command_id,
        "events": events,
        "consistency_token": consistency_token(positions),
        "duplicate": reply.duplicate,
    }


async def _execute_one(
    service: CommandService,
    command: Command,
    request: CommandRequest,
    batch: ImportProcessReleases,
) -> CommandAccepted | CommandRejected:
    route = service._routes[command.command_type]
    meta = CommandMetadata(
        command_id=command.command_id,
        actor=request.actor,
        correlation_id=request.correlation_id or command.command_id,
        causation_id=batch.command_id,
    )
    return await service.execute(route, command, meta)


class _WholeGroup(CommandRequest):
    """A group message whose every part is valid, validated in one pass from its JSON."""

    command: ImportReleaseGroup  # type: ignore[assignment]


def _whole_group(data: bytes) -> tuple[CommandRequest, ImportReleaseGroup] | None:
    """The request (its command left out) and its group when the message is valid as a
    whole; None otherwise: it is then validated part by part, each bad process refused on
    its own with its path (the same rules, so a valid message gets the same values)."""
    try:
        whole = _WholeGroup.model_validate_json(data)
    except ValidationError:
        return None
    fields = {k: getattr(whole, k) for k in CommandRequest.model_fields if k != "command"}
    return CommandRequest.model_construct(**fields, command={}), whole.command


def _invalid(what: str, exc: ValidationError) -> CommandRejected:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return CommandRejected(code="INVALID_COMMAND", message=f"invalid {what}: {problems}")
