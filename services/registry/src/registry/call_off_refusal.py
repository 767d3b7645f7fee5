"""The registry's command service, which names a call-off where a contract was expected.

Contracts and call-offs share one id space, and GraphQL lists a call-off as a contract under
its id; a change sent to that id (amend, extend, terminate) found no registry contract and
was refused "has not been signed", which it was. The call-off is looked up only once such a
command has been refused CONTRACT_NOT_FOUND, so an accepted change costs no extra read.
"""

from __future__ import annotations

from typing import Any

from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.commands import CommandRoute
from eventstore.records import CommandMetadata
from registry.domain.contract_decide import refusal_for_call_off
from registry.facts_loaders import call_off_of_id
from registry.import_service import RegistryCommandService


class RegistryService(RegistryCommandService):
    async def execute(
        self, route: CommandRoute[Any, Any], command: Command, meta: CommandMetadata
    ) -> CommandAccepted | CommandRejected:
        reply = await super().execute(route, command, meta)
        if not (
            isinstance(reply, CommandRejected)
            and reply.code == "CONTRACT_NOT_FOUND"
            and isinstance(command, cmd.ContractCommand)
        ):
            return reply
        call_off = await call_off_of_id(self._store, command.contract_id)
        if call_off is None:
            return reply
        refusal = refusal_for_call_off(command, call_off)
        return CommandRejected(
            command_id=reply.command_id, code=refusal.code, message=refusal.message
        )
