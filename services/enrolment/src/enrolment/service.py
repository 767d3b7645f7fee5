"""The enrolment CommandService, plus the municipality-list load that fans out per row.

Loading the CBS list touches one organisation aggregate per municipality, so it is not a
single-aggregate route: the whole file is validated first (one bad row: nothing is loaded),
then each row is registered as its own idempotent command, caused by the load command.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from importlib.resources import files
from typing import Any

from pydantic import ValidationError

from contracts_schema.enrolment.commands import LoadMunicipalities, RegisterOrganisation
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import ENROLMENT
from enrolment.domain.municipality_list import MunicipalityRow, parse_municipalities
from enrolment.domain.organisation import register_from_reference_list
from enrolment.routes import ORGANISATION
from eventstore.commands import CommandRoute, CommandService, failure_reply
from eventstore.records import CommandMetadata

log = logging.getLogger(__name__)

LOAD_SUBJECT = ENROLMENT.command_subject(LoadMunicipalities.command_type)
LOAD_CONCURRENCY = 16

REFERENCE_ROUTE: CommandRoute[Any, RegisterOrganisation] = CommandRoute(
    RegisterOrganisation,
    ORGANISATION,
    lambda c: c.code,
    lambda s, c, ctx: register_from_reference_list(s, c, ctx.valid_on),
)


def shipped_municipalities() -> str:
    return files("enrolment").joinpath("data/municipalities.csv").read_text(encoding="utf-8")


class EnrolmentCommandService(CommandService):
    """The load fans out per row; made by `bootstrap.parts` from `enrolment.app.COMMANDS`."""

    @property
    def command_types(self) -> list[str]:
        return sorted([*super().command_types, LoadMunicipalities.command_type])

    async def handle(self, subject: str, data: bytes) -> bytes:
        # By its last token: the subject may carry a partition (`enrolment.commands.<p>.<type>`).
        if subject.rsplit(".", 1)[-1] != LoadMunicipalities.command_type:
            return await super().handle(subject, data)
        try:
            reply: CommandAccepted | CommandRejected = await self._load(data)
        except Exception as exc:
            reply = failure_reply(subject, exc)
        return reply.model_dump_json().encode()

    async def _load(self, data: bytes) -> CommandAccepted | CommandRejected:
        try:
            request = CommandRequest.model_validate_json(data)
            command = LoadMunicipalities.model_validate(request.command)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            return CommandRejected(
                code="INVALID_COMMAND", message=f"invalid LoadMunicipalities: {problems}"
            )
        text = command.csv_text if command.csv_text is not None else shipped_municipalities()
        try:
            rows = parse_municipalities(text, command.source)
        except RuleViolation as violation:
            return CommandRejected(
                command_id=command.command_id, code=violation.code, message=violation.message
            )
        prefix = hashlib.sha256(command.command_id.encode()).hexdigest()[:20]
        slots = asyncio.Semaphore(LOAD_CONCURRENCY)

        async def register(row: MunicipalityRow) -> CommandAccepted | CommandRejected:
            row_command = RegisterOrganisation(
                command_id=f"load-{prefix}-{row.code}",
                occurred_at=command.occurred_at,
                code=row.code,
                name=row.name,
                kind="municipality",
                province=row.province,
            )
            meta = CommandMetadata(
                command_id=row_command.command_id,
                actor=request.actor,
                correlation_id=request.correlation_id or command.command_id,
                causation_id=command.command_id,
            )
            async with slots:
                return await self.execute(REFERENCE_ROUTE, row_command, meta)

        replies = await asyncio.gather(*(register(row) for row in rows))
        failed = [r for r in replies if isinstance(r, CommandRejected)]
        if failed:
            return CommandRejected(
                command_id=command.command_id,
                code="MUNICIPALITY_LOAD_INCOMPLETE",
                message=f"{len(failed)} of {len(rows)} municipalities from {command.source} were"
                f" not registered (first: {failed[0].code}: {failed[0].message}); retry the"
                " command with the same command id to finish the load",
            )
        accepted = [r for r in replies if isinstance(r, CommandAccepted)]
        events = tuple(e for r in accepted for e in r.events)
        highest: dict[str, int] = {}
        for e in events:
            highest[e.stream] = max(highest.get(e.stream, 0), e.seq)
        return CommandAccepted(
            command_id=command.command_id,
            events=events,
            consistency_token=",".join(f"{s}:{q}" for s, q in sorted(highest.items())),
            duplicate=bool(events) and all(r.duplicate for r in accepted),
        )
