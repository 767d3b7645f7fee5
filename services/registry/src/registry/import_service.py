"""The registry CommandService, plus the import of a process's releases in one message.

An imported release is one `RecordImportedTenderRelease` and a `RecordImportedContractRelease`
per contract it changed: five or six commands for an ordinary process. Sent one by one, each
pays a request, a reply and the subscriber's work; `ImportProcessReleases` carries them all
and they are executed here, in order, each exactly as if it had been sent alone (its own
command id, valid time, idempotency record and provenance; caused by the batch). The first
refused release ends the batch: the importer mapped the later ones on top of it.
"""

from __future__ import annotations

from pydantic import ValidationError

from contracts_schema.base import Command
from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ProcessReleasesImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.commands import CommandService, failure_reply
from eventstore.records import CommandMetadata

IMPORT_SUBJECT = REGISTRY.command_subject(ImportProcessReleases.command_type)


class RegistryCommandService(CommandService):
    """Made by `bootstrap.parts` from `registry.app.COMMANDS`."""

    @property
    def command_types(self) -> list[str]:
        return sorted([*super().command_types, ImportProcessReleases.command_type])

    async def handle(self, subject: str, data: bytes) -> bytes:
        if subject != IMPORT_SUBJECT:
            return await super().handle(subject, data)
        try:
            reply: ProcessReleasesImported | CommandRejected = await self._import(data)
        except Exception as exc:
            reply = failure_reply(subject, exc)
        return reply.model_dump_json().encode()

    async def _import(self, data: bytes) -> ProcessReleasesImported | CommandRejected:
        try:
            request = CommandRequest.model_validate_json(data)
            batch = ImportProcessReleases.model_validate(request.command)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            return CommandRejected(
                code="INVALID_COMMAND", message=f"invalid ImportProcessReleases: {problems}"
            )
        outcomes: list[ImportedReleaseOutcome] = []
        for release in batch.releases:
            replies: list[CommandAccepted | CommandRejected] = []
            for command in (release.tender, *release.contracts):
                reply = await self._execute_one(command, request, batch)
                replies.append(reply)
                if isinstance(reply, CommandRejected):
                    break
            outcome = ImportedReleaseOutcome(release_id=release.release_id, replies=replies)
            outcomes.append(outcome)
            if outcome.refused is not None:
                break
        return ProcessReleasesImported(command_id=batch.command_id, releases=outcomes)

    async def _execute_one(
        self, command: Command, request: CommandRequest, batch: ImportProcessReleases
    ) -> CommandAccepted | CommandRejected:
        route = self._routes[command.command_type]
        meta = CommandMetadata(
            command_id=command.command_id,
            actor=request.actor,
            correlation_id=request.correlation_id or command.command_id,
            causation_id=batch.command_id,
        )
        return await self.execute(route, command, meta)
