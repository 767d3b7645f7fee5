"""Send commands to the owning service over NATS request/reply."""

from __future__ import annotations

import nats.errors
from nats.aio.client import Client as NATS

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import CONTEXTS
from eventstore.serving import send_command


class CommandBus:
    def __init__(self, nc: NATS, *, timeout: float = 10.0) -> None:
        self._nc = nc
        self._timeout = timeout

    async def send(self, command: Command, actor: str) -> CommandAccepted | CommandRejected:
        context = CONTEXTS[command.context]
        size = len(command.model_dump_json())
        limit = self._nc.max_payload
        if limit and size > limit - 4096:  # the envelope's headers and actor need room too
            return CommandRejected(
                command_id=command.command_id,
                code="COMMAND_TOO_LARGE",
                message=f"{command.command_type} is {size} bytes; the broker carries at most"
                f" {limit} per message: send less in one command",
            )
        try:
            return await send_command(
                self._nc, context, command, actor=actor, timeout=self._timeout
            )
        except nats.errors.NoRespondersError:
            return CommandRejected(
                command_id=command.command_id,
                code="SERVICE_UNAVAILABLE",
                message=f"the {context.name} service is not running; retry with the same commandId",
            )
        except TimeoutError:  # nats-py's own or asyncio's: both are TimeoutError
            return CommandRejected(
                command_id=command.command_id,
                code="SERVICE_TIMEOUT",
                message=f"the {context.name} service did not answer within {self._timeout:g}s;"
                " retry with the same commandId (commands are idempotent)",
            )
