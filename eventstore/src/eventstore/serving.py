"""Serve a CommandService on NATS request/reply, and send commands as a client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import BoundedContext
from eventstore.commands import CommandService


class CommandServer:
    """Queue-group subscriber on `<context>.commands.*`; handles messages concurrently."""

    def __init__(self, nc: NATS, service: CommandService, *, concurrency: int = 64) -> None:
        self._nc = nc
        self._service = service
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        await self._service.start()
        context = self._service.context
        self._sub = await self._nc.subscribe(
            context.command_subjects, queue=f"{context.name}-commands", cb=self._on_message
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_message(self, msg: Msg) -> None:
        task = asyncio.create_task(self._respond(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _respond(self, msg: Msg) -> None:
        async with self._slots:
            reply = await self._service.handle(msg.subject, msg.data)
        if msg.reply:
            await msg.respond(reply)


async def send_command(
    nc: NATS,
    context: BoundedContext,
    command: Command,
    *,
    actor: str = "test",
    correlation_id: str | None = None,
    timeout: float = 10.0,
    no_responder_wait: float = 3.0,
    headers: Mapping[str, str] | None = None,
) -> CommandAccepted | CommandRejected:
    """Send a command and wait for its reply; `headers` (e.g. `traceparent`) go on the request."""
    request = CommandRequest(
        command_type=command.command_type,
        command=command.model_dump(mode="json"),
        actor=actor,
        correlation_id=correlation_id,
    )
    subject = context.command_subject(command.command_type)
    payload = request.model_dump_json().encode()
    # A service that is (re)starting has no responder for a moment: wait briefly for it.
    deadline = asyncio.get_running_loop().time() + no_responder_wait
    while True:
        try:
            msg = await nc.request(subject, payload, timeout=timeout, headers=dict(headers or {}))
            return parse_reply(msg.data)
        except NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def parse_reply(data: bytes) -> CommandAccepted | CommandRejected:
    body: dict[str, Any] = json.loads(data)
    if body.get("status") == "accepted":
        return CommandAccepted.model_validate(body)
    return CommandRejected.model_validate(body)
