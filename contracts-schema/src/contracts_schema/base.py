"""Base classes for the published vocabulary: domain events and commands.

Events and commands are small frozen values. They are the single definition shared by
the services' pure domain code and the wire, so the contract cannot drift from the code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from contracts_schema.bounds import Instant
from contracts_schema.calendar import dutch_day, dutch_midnight

# Ids become NATS subject tokens and KV keys: no dots, spaces or wildcards.
ID_MAX = 128
ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{ID_MAX}}}$"

Identifier = Annotated[
    str, Field(pattern=ID_PATTERN, description="Stable identifier (letters, digits, '-', '_').")
]


def _require_timezone(value: datetime) -> datetime:
    # Aware by Python's rule: a tzinfo that gives an offset (one whose `utcoffset()` is None
    # makes a time whose JSON form has no offset, which this validator refuses when read).
    if value.tzinfo is None or value.utcoffset() is None:
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
    """An instruction to a service; imperative name, carries its own id.

    Its one valid time is `occurred_at` (default: now); the deciding service turns it into the
    Dutch calendar day (`eventstore.commands.DecisionContext.valid_on`). A few commands still
    accept an older day field (`valid_day_field`, deprecated): it is the same valid time, so
    it sets `occurred_at` to the start of that Dutch day, or is filled from `occurred_at`, and
    a command naming two different days is refused.
    """

    command_type: ClassVar[str]
    context: ClassVar[str]
    valid_day_field: ClassVar[str | None] = None
    # Only a system's own schedule may date a command ahead of the clock (VALID_TIME_IN_FUTURE).
    future_valid_time_allowed: ClassVar[bool] = False
    # Dated before its aggregate's latest valid day, it is decided on the aggregate as it was
    # on its day (`eventstore.valid_order`); False: recorded as given (an imported release).
    decided_by_valid_time: ClassVar[bool] = True

    command_id: Identifier = Field(description="Client-chosen id; a retried command reuses it.")
    occurred_at: Instant | None = Field(
        default=None,
        description="Valid time: when the fact became true in the world. Defaults to now;"
        " refused when more than a few minutes in the future.",
    )

    @model_validator(mode="after")
    def _one_valid_time(self) -> Self:
        field = self.valid_day_field
        if field is None:
            return self
        day: date | None = getattr(self, field)
        if day is None and self.occurred_at is not None:
            object.__setattr__(self, field, dutch_day(self.occurred_at))
        elif day is not None and self.occurred_at is None:
            object.__setattr__(self, "occurred_at", dutch_midnight(day))
        elif (
            day is not None and self.occurred_at is not None and dutch_day(self.occurred_at) != day
        ):
            raise ValueError(
                f"{field} ({day}) and occurred_at (Dutch day {dutch_day(self.occurred_at)})"
                f" name different days; a command has one valid time: send occurred_at only"
                f" ({field} is deprecated)"
            )
        return self

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "command_type" not in cls.__dict__:
            cls.command_type = cls.__name__
