"""Send commands over NATS request/reply as a client, and read the replies.

Services are served by the one FastStream subscriber, `eventstore.service_app`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError

from contracts_schema.base import Command
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import BoundedContext, command_partition
from eventstore.inbox import Replies


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
    payload = request_payload(command, actor, correlation_id)
    key = partition_key(command)
    if key is not None:
        # The process that owns the aggregate's partition (and has it warm in its cache).
        subject = context.partitioned_command_subject(command.command_type, command_partition(key))
        try:
            reply = await request_reply(
                nc, subject, payload, timeout=timeout, no_responder_wait=0, headers=headers
            )
            return parse_reply(reply)
        except NoRespondersError:
            pass  # its owner just died (or an older service runs): any process will do
    subject = context.command_subject(command.command_type)
    reply = await request_reply(
        nc, subject, payload, timeout=timeout, no_responder_wait=no_responder_wait, headers=headers
    )
    return parse_reply(reply)


def request_payload(command: Command, actor: str, correlation_id: str | None) -> bytes:
    """The `CommandRequest` a service reads, as JSON: the command is a validated model, its
    JSON form is put in as pydantic writes it (not made a dictionary, validated again as one
    and written by a second model); the same fields and values as
    `CommandRequest(...).model_dump_json()`."""
    return b"".join(
        (
            b'{"command_type":',
            json.dumps(command.command_type).encode(),
            b',"command":',
            command.model_dump_json().encode(),
            b',"actor":',
            json.dumps(actor).encode(),
            b',"correlation_id":',
            json.dumps(correlation_id).encode(),
            b',"causation_id":null}',
        )
    )


def partition_key(command: Command) -> str | None:
    """What a command's partition is computed from: its first `*_id` field after the command
    id (the aggregate's id for nearly every command: `contract_id`, `tender_id`, ...; where
    it is not, the command still lands, just not always on a warm cache). None for a
    command without one (a batch): any process takes it."""
    for name in type(command).model_fields:
        if name.endswith("_id") and name != "command_id":
            value = getattr(command, name)
            if isinstance(value, str) and value:
                return value
    return None


async def request_reply(
    nc: NATS,
    subject: str,
    payload: bytes,
    *,
    timeout: float = 10.0,
    no_responder_wait: float = 3.0,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """Any payload on a command subject, the reply's raw bytes."""
    # A service that is (re)starting has no responder for a moment: wait briefly for it.
    deadline = asyncio.get_running_loop().time() + no_responder_wait
    replies = _replies.get(nc)
    if replies is None:  # one inbox per connection, its replies taken as read
        replies = _replies[nc] = Replies(nc)
    while True:
        try:
            msg = await replies.request(
                subject, payload, timeout=timeout, headers=dict(headers) if headers else None
            )
            return msg.data
        except NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


_replies: weakref.WeakKeyDictionary[NATS, Replies] = weakref.WeakKeyDictionary()

_ACCEPTED = b'{"status":"accepted",'  # how a service's accepted reply begins (pydantic's order)


def parse_reply(data: bytes) -> CommandAccepted | CommandRejected:
    if data.startswith(_ACCEPTED):  # the common case, parsed and validated in one step
        return CommandAccepted.model_validate_json(data)
    body: dict[str, Any] = json.loads(data)
    if body.get("status") == "accepted":
        return CommandAccepted.model_validate(body)
    return CommandRejected.model_validate(body)
