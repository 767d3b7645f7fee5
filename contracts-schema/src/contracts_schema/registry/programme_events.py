"""Events of the programme aggregate (OT2006, OT2010, OT2017, GT, ...)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from contracts_schema.base import DomainEvent, Identifier
from contracts_schema.registry.values import OrganisationCode


class _ProgrammeEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "programme"
    context: ClassVar[str] = "registry"

    programme_id: Identifier = Field(description="Programme id, e.g. OT2010.")


class ProgrammePlanned(_ProgrammeEvent):
    """A family of joint procurements was planned."""

    name: str = Field(min_length=1, description="Programme name.")
    coordinator: OrganisationCode = Field(description="Body that runs the programme.")
    planned_on: date = Field(description="Date the programme was planned (valid time).")
    predecessor_programme_id: Identifier | None = Field(
        default=None, description="The programme this one succeeds, e.g. OT2006 for OT2010."
    )
    description: str | None = Field(default=None, description="Free text about its scope.")


class SuccessorProgrammeLinked(_ProgrammeEvent):
    """A successor programme was named for this programme (e.g. OT2010 -> OT2017)."""

    successor_programme_id: Identifier = Field(description="The programme that succeeds it.")
    linked_on: date = Field(description="Date the link became true.")


PROGRAMME_EVENTS: tuple[type[DomainEvent], ...] = (ProgrammePlanned, SuccessorProgrammeLinked)
