"""Command replies on the wire: accepted (with a consistency token) or rejected."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts_schema.base import Value


class CommandRequest(Value):
    """What a client sends on a command subject."""

    command_type: str = Field(description="Imperative command name, e.g. PublishTender.")
    command: dict[str, Any] = Field(description="The command body, per its JSON Schema.")
    actor: str = Field(default="anonymous", min_length=1, description="Authenticated caller.")
    correlation_id: str | None = Field(default=None, description="Defaults to the command id.")
    causation_id: str | None = None


class AppendedEvent(Value):
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    stream: str
    seq: int


class CommandAccepted(Value):
    status: Literal["accepted"] = "accepted"
    command_id: str
    events: tuple[AppendedEvent, ...]
    consistency_token: str = Field(
        description="'STREAM:seq' pairs; queries wait until projections reach them."
    )
    duplicate: bool = Field(
        default=False, description="True when the command had already been processed."
    )


class CommandRejected(Value):
    status: Literal["rejected"] = "rejected"
    command_id: str | None = None
    code: str = Field(description="Stable machine-readable code, e.g. STANDSTILL_NOT_ENDED.")
    message: str = Field(description="A sentence naming the rule or the problem.")


CommandReply = CommandAccepted | CommandRejected
