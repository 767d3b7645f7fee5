"""Base classes for the published vocabulary: domain events and commands.

Events and commands are small frozen values. They are the single definition shared by
the services' pure domain code and the wire, so the contract cannot drift from the code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Ids become NATS subject tokens and KV keys: no dots, spaces or wildcards.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"

Identifier = Annotated[
    str, Field(pattern=ID_PATTERN, description="Stable identifier (letters, digits, '-', '_').")
]


def _require_timezone(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (use Z or +00:00)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_require_timezone)]


class Value(BaseModel):
    """A frozen value object that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DomainEvent(Value):
    """Something that happened; named subject + past-tense verb."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str]
    context: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__


class Command(Value):
    """An instruction to a service; imperative name, carries its own id."""

    command_type: ClassVar[str]
    context: ClassVar[str]

    command_id: Identifier = Field(description="Client-chosen id; a retried command reuses it.")
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="Valid time: when the fact became true in the world. Defaults to now.",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "command_type" not in cls.__dict__:
            cls.command_type = cls.__name__
