"""GraphQL enums for the contract's closed value sets that are plain strings in its models.

The contract spells these sets as `Literal`s (`contracts_schema.registry.values`,
`contracts_schema.enrolment.events`, ...); here each becomes an enum whose values are the
contract's own words, so a client learns the set from the schema and a wrong value is refused
by name. `LITERAL_ENUMS` lets the generated command inputs use the same enums, and a unit test
holds each enum to its Literal.
"""

from __future__ import annotations

from enum import Enum, StrEnum

import strawberry

from contracts_schema.enrolment.state.enrolment_window import ParticipantStatus
from contracts_schema.registry.state.contract import ContractKind


@strawberry.enum(description="The procurement procedure of a tender (Aanbestedingswet 2012).")
class Procedure(StrEnum):
    OPEN = "open"
    RESTRICTED = "restricted"
    COMPETITIVE_PROCEDURE_WITH_NEGOTIATION = "competitive_procedure_with_negotiation"
    COMPETITIVE_DIALOGUE = "competitive_dialogue"
    NEGOTIATED_WITHOUT_PUBLICATION = "negotiated_without_publication"
    NATIONAL = "national"


@strawberry.enum(description="How a call-off was concluded under its framework.")
class CallOffProcedure(StrEnum):
    DIRECT = "direct"
    MINI_COMPETITION = "mini_competition"


@strawberry.enum(description="How review proceedings on a lot's award ended.")
class ReviewOutcome(StrEnum):
    AWARD_UPHELD = "award_upheld"
    AWARD_ANNULLED = "award_annulled"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"


@strawberry.enum(description="What kind of body an organisation is.")
class OrganisationKind(StrEnum):
    MUNICIPALITY = "municipality"
    MINISTRY = "ministry"
    PROVINCE = "province"
    WATER_BOARD = "water_board"
    ZBO = "zbo"
    CARE_INSTITUTION = "care_institution"
    EDUCATION_INSTITUTION = "education_institution"
    ASSOCIATION = "association"
    SUPPLIER = "supplier"
    OTHER = "other"


@strawberry.enum(description="The bounded context (and stream) an event belongs to.")
class EventContext(StrEnum):
    REGISTRY = "registry"
    ENROLMENT = "enrolment"
    NOTIFIER = "notifier"


@strawberry.enum(description="The kind of aggregate an event belongs to.")
class AggregateType(StrEnum):
    PROGRAMME = "programme"
    TENDER = "tender"
    CONTRACT = "contract"
    ORGANISATION = "organisation"
    ENROLMENT_WINDOW = "enrolment_window"
    CALL_OFF = "call_off"
    EXPIRY_SCHEDULE = "expiry_schedule"
    SUBSCRIPTION = "subscription"
    PERSON = "person"  # privacy: PersonErased (docs/privacy.md)


@strawberry.enum(description="Which date of a contract a warning is about.")
class DateKind(StrEnum):
    END = "end"
    MAX_EXTENT = "max_extent"


strawberry.enum(ParticipantStatus, description="Whether a body is enrolled or withdrew.")

# A command input's Literal becomes the enum with the same set of values.
LITERAL_ENUMS: dict[frozenset[str], type[Enum]] = {
    frozenset(e.value for e in enum): enum
    for enum in (
        Procedure, CallOffProcedure, ReviewOutcome, OrganisationKind, DateKind, ContractKind,
    )
}  # fmt: skip
