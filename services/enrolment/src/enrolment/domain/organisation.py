"""Decisions on an organisation (id = its code): registration, renames, municipal mergers."""

from __future__ import annotations

from collections.abc import Sequence

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import (
    MergeMunicipality,
    RegisterOrganisation,
    RenameOrganisation,
)
from contracts_schema.enrolment.events import (
    MunicipalityMerged,
    OrganisationRegistered,
    OrganisationRenamed,
)
from contracts_schema.enrolment.state import OrganisationState
from contracts_schema.errors import RuleViolation
from enrolment.domain.codes import check_code, is_municipality_code


def require_registered(state: OrganisationState, code: str) -> None:
    if not state.registered:
        raise RuleViolation(
            "ORGANISATION_UNKNOWN",
            f"no organisation {code} is registered; municipalities come from the CBS list,"
            " other bodies are registered with their KvK number or OIN",
        )


def require_active(state: OrganisationState, code: str) -> None:
    require_registered(state, code)
    if state.successor_code is not None:
        raise RuleViolation(
            "ORGANISATION_MERGED",
            f"municipality {code} merged into {state.successor_code} on {state.merged_on};"
            f" act as {state.successor_code}, which took over its participations",
        )


def register(state: OrganisationState, command: RegisterOrganisation) -> Sequence[DomainEvent]:
    check_code(command.code)
    if is_municipality_code(command.code) != (command.kind == "municipality"):
        raise RuleViolation(
            "ORGANISATION_KIND_MISMATCH",
            f"{command.code} is registered as kind {command.kind!r}, but CBS codes (GM####)"
            " belong to municipalities and only to them",
        )
    event = OrganisationRegistered(
        code=command.code, name=command.name, kind=command.kind, province=command.province
    )
    if state.registered:
        if (state.name, state.kind, state.province) == (event.name, event.kind, event.province):
            return []  # the same registration again changes nothing
        raise RuleViolation(
            "ORGANISATION_ALREADY_REGISTERED",
            f"{command.code} is already registered as {state.name!r} ({state.kind});"
            " rename it instead of registering it again",
        )
    return [event]


def register_from_reference_list(
    state: OrganisationState, command: RegisterOrganisation
) -> Sequence[DomainEvent]:
    """Reference data: a municipality already known (perhaps renamed since) is left alone."""
    return [] if state.registered else register(state, command)


def rename(state: OrganisationState, command: RenameOrganisation) -> Sequence[DomainEvent]:
    require_active(state, command.code)
    if command.name == state.name:
        return []
    return [OrganisationRenamed(code=command.code, name=command.name, previous_name=state.name)]


def merge(
    state: OrganisationState, command: MergeMunicipality, successor: OrganisationState
) -> Sequence[DomainEvent]:
    require_registered(state, command.code)
    if state.successor_code == command.successor_code and state.merged_on == command.effective_on:
        return []
    require_active(state, command.code)
    if state.kind != "municipality":
        raise RuleViolation(
            "NOT_A_MUNICIPALITY",
            f"{command.code} is a {state.kind}; only municipalities merge (gemeentelijke"
            " herindeling)",
        )
    if command.successor_code == command.code:
        raise RuleViolation(
            "MERGE_INTO_ITSELF", f"municipality {command.code} cannot merge into itself"
        )
    if not successor.registered or successor.kind != "municipality":
        raise RuleViolation(
            "SUCCESSOR_NOT_A_MUNICIPALITY",
            f"the successor {command.successor_code} is not a registered municipality;"
            " register the new municipality first",
        )
    if successor.successor_code is not None:
        raise RuleViolation(
            "SUCCESSOR_MERGED",
            f"the successor {command.successor_code} itself merged into"
            f" {successor.successor_code} on {successor.merged_on}",
        )
    return [
        MunicipalityMerged(
            code=command.code,
            successor_code=command.successor_code,
            effective_on=command.effective_on,
        )
    ]
