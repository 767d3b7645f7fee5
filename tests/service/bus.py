"""Commands answered in-process, by the services' own `CommandService.handle`.

The same bytes a FastStream subscriber hands over; shaped like the gateway's `CommandBus`
(`send(command, actor)`), so GraphQL mutations can use it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import CONTEXTS
from eventstore.commands import CommandService
from eventstore.serving import parse_reply


class InProcessBus:
    def __init__(self, services: Sequence[CommandService]) -> None:
        self._services = {s.context.name: s for s in services}

    async def send(
        self, command: Command, actor: str = "test"
    ) -> CommandAccepted | CommandRejected:
        request = CommandRequest(
            command_type=command.command_type, command=command.model_dump(mode="json"), actor=actor
        )
        return await self.send_raw(
            CONTEXTS[command.context].command_subject(command.command_type),
            request.model_dump_json().encode(),
        )

    async def send_raw(self, subject: str, data: bytes) -> CommandAccepted | CommandRejected:
        return parse_reply(await self.request(subject, data))

    async def request(self, subject: str, data: bytes) -> bytes:
        """The reply's bytes, unparsed (a service may answer in its own shape)."""
        return await self._services[subject.split(".", 1)[0]].handle(subject, data)

    async def accept(self, command: Command) -> CommandAccepted:
        reply = await self.send(command)
        assert isinstance(reply, CommandAccepted), reply
        return reply

    async def reject(self, command: Command, code: str) -> CommandRejected:
        reply = await self.send(command)
        assert isinstance(reply, CommandRejected), reply
        assert reply.code == code, reply
        return reply
