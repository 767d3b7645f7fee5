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
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import ValidationError

from contracts_schema.base import Command
from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ImportReleaseGroup,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.commands import CommandService, consistency_token, failure_reply
from eventstore.group_append import MAX_BATCH, PROVISIONAL, GroupedEvent, StagedStore
from eventstore.group_commit import staged_twin
from eventstore.ports import GroupAppender, ProcessedCommands
from eventstore.records import CommandMetadata

IMPORT_SUBJECT = REGISTRY.command_subject(ImportProcessReleases.command_type)
GROUP_SUBJECT = REGISTRY.command_subject(ImportReleaseGroup.command_type)


class RegistryCommandService(CommandService):
    """Made by `bootstrap.parts` from `registry.app.COMMANDS`."""

    @property
    def command_types(self) -> list[str]:
        extra = [ImportProcessReleases.command_type, ImportReleaseGroup.command_type]
        return sorted([*super().command_types, *extra])

    async def handle(self, subject: str, data: bytes) -> bytes:
        reply: ProcessReleasesImported | ReleaseGroupImported | CommandRejected
        try:
            if subject == IMPORT_SUBJECT:
                reply = await self._import(data)
            elif subject == GROUP_SUBJECT:
                reply = await self._import_group(data)
            else:
                return await super().handle(subject, data)
        except Exception as exc:
            reply = failure_reply(subject, exc)
        return reply.model_dump_json().encode()

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

    async def _import_group(self, data: bytes) -> ReleaseGroupImported | CommandRejected:
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
        # Each process is valid or refused on its own: one bad process spoils no other.
        answers: list[ProcessReleasesImported | CommandRejected | None] = []
        batches: list[tuple[int, ImportProcessReleases]] = []
        for n, body in enumerate(processes or []):
            try:
                batches.append((n, ImportProcessReleases.model_validate(body)))
                answers.append(None)
            except ValidationError as exc:
                answers.append(_invalid(f"processes[{n}] (ImportProcessReleases)", exc))
        if not isinstance(self._store, GroupAppender) or self._processed is None:
            for n, batch in batches:  # no group commit on this store: one by one
                answers[n] = await self._alone(batch, request)
        else:
            await self._group_commit(batches, request, answers)
        lost = CommandRejected(code="INTERNAL_ERROR", message="internal error: not answered")
        done = [lost if a is None else a for a in answers]  # (never: each has its answer)
        return ReleaseGroupImported(command_id=group.command_id, processes=done)

    async def _group_commit(
        self,
        batches: list[tuple[int, ImportProcessReleases]],
        request: CommandRequest,
        answers: list[ProcessReleasesImported | CommandRejected | None],
    ) -> None:
        staged = await asyncio.gather(*(self._stage(n, b, request) for n, b in batches))
        alone: list[tuple[int, ImportProcessReleases]] = []
        commits: list[list[_StagedProcess]] = [[]]
        taken: set[tuple[str, str, str]] = set()
        for (n, batch), process in zip(batches, staged, strict=True):
            if process is None or process.keys & taken:
                alone.append((n, batch))  # refused, too large, or sharing an aggregate
                continue
            taken |= process.keys
            if process.count == 0:  # nothing new (a re-run): its answers are final
                answers[n] = await self._recorded(process, 0)
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

    async def _stage(
        self, index: int, batch: ImportProcessReleases, request: CommandRequest
    ) -> _StagedProcess | None:
        """The process decided on a staged store; None when it must go alone."""
        from registry.routes import build_routes  # the same routes, reading the staged store

        store = StagedStore(self._store)
        held = _HeldRecords(self._processed)
        routes = [r for r in build_routes(store) if r.command.command_type in _IMPORTED]
        staging = staged_twin(self, store, routes, held)
        try:
            reply = await self._import_process(staging, batch, request)
            await staging.drain()
        except Exception:
            return None  # alone, it meets (and answers) the same condition
        if any(o.refused is not None for o in reply.releases) or store.count > MAX_BATCH:
            return None
        events = store.events()
        keys = {(self.context.name, e.aggregate_type, e.aggregate_id) for e in events}
        return _StagedProcess(index, batch, reply, events, held.records, keys)

    async def _commit(
        self, processes: list[_StagedProcess]
    ) -> list[tuple[_StagedProcess, ProcessReleasesImported | None]]:
        """One atomic append of the processes' events; their answers (None: go alone)."""
        events = [e for p in processes for e in p.events]
        assert isinstance(self._store, GroupAppender)
        try:
            stored = await self._store.append_group(events)
        except Exception:
            # Moved by another writer, appended before (a resend), or unknown (a timeout):
            # alone, each process reloads its aggregates and sees which.
            for p in processes:
                for key in p.keys:
                    self._cache.drop(key)
            return [(p, None) for p in processes]
        answers: list[tuple[_StagedProcess, ProcessReleasesImported | None]] = []
        offset = 0
        for p in processes:
            answers.append((p, await self._recorded(p, stored[offset].seq if p.count else 0)))
            for key in p.keys:
                self._cache.drop(key)  # our own cache has not seen these events
            offset += p.count
        return answers

    async def _recorded(self, p: _StagedProcess, first: int) -> ProcessReleasesImported:
        """The process's answer with its events' stored sequences (from `first` on), and its
        processed-command records written as `execute` writes them."""

        def real(seq: int) -> int:
            return first + seq - PROVISIONAL if seq >= PROVISIONAL else seq

        for key, data in p.records:
            record = json.loads(data)
            events = record["reply"]["events"]
            if any(e["seq"] >= PROVISIONAL for e in events):  # else a repair, as written
                for e in events:
                    e["seq"] = real(e["seq"])
                positions = [_Position(e["stream"], e["seq"]) for e in events]
                record["reply"]["consistency_token"] = consistency_token(positions)
                data = json.dumps(record).encode()
            self._record(key, data)
        outcomes = [
            o.model_copy(
                update={
                    "replies": [
                        _placed(r, real) if isinstance(r, CommandAccepted) else r for r in o.replies
                    ]
                }
            )
            for o in p.reply.releases
        ]
        return p.reply.model_copy(update={"releases": outcomes})

    def _record(self, command_id: str, data: bytes) -> None:
        """Write a processed-command record as `_remember` does (answered from memory until
        the write is confirmed)."""
        self._pending[command_id] = data
        write = asyncio.ensure_future(self._write_record(command_id, data))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)


class _Position(NamedTuple):
    stream: str
    seq: int


_IMPORTED = {"RecordImportedTenderRelease", "RecordImportedContractRelease"}


@dataclass
class _StagedProcess:
    index: int  # in the group
    batch: ImportProcessReleases
    reply: ProcessReleasesImported  # with provisional sequences
    events: list[GroupedEvent]
    records: list[tuple[str, bytes]]  # held processed-command records
    keys: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.events)


class _HeldRecords:
    """The processed-command record, read as it is, written only once the group is stored."""

    def __init__(self, record: ProcessedCommands | None) -> None:
        self._record = record
        self.records: list[tuple[str, bytes]] = []

    async def get(self, key: str) -> bytes | None:
        return None if self._record is None else await self._record.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.records.append((key, value))


def _placed(reply: CommandAccepted, real: Callable[[int], int]) -> CommandAccepted:
    events = tuple(e.model_copy(update={"seq": real(e.seq)}) for e in reply.events)
    return reply.model_copy(
        update={"events": events, "consistency_token": consistency_token(events)}
    )


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


def _invalid(what: str, exc: ValidationError) -> CommandRejected:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return CommandRejected(code="INVALID_COMMAND", message=f"invalid {what}: {problems}")
