"""Decisions on an organisation (id = its code): registration, renames, municipal mergers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

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
from contracts_schema.valid_from import first_day_after, why_not_before
from enrolment.domain.codes import check_code, is_municipality_code


def require_registered(state: OrganisationState, code: str) -> None:
    if not state.registered:
        raise RuleViolation(
            "ORGANISATION_UNKNOWN",
            f"no organisation {code} is registered; municipalities come from the CBS list,"
            " other bodies are registered with their KvK number or OIN",
        )


def require_active(state: OrganisationState, code: str, on: date | None = None) -> None:
    """Refuse a merged municipality; with `on`, only from the day its merger took effect (a
    fact dated before then, recorded late, is still its own)."""
    require_registered(state, code)
    before_merger = state.merged_on is not None and on is not None and on < state.merged_on
    if state.successor_code is not None and not before_merger:
        raise RuleViolation(
            "ORGANISATION_MERGED",
            f"municipality {code} merged into {state.successor_code} on {state.merged_on};"
            f" act as {state.successor_code}, which took over its participations",
        )


def require_active_on(state: OrganisationState, code: str, on: date) -> None:
    """`require_active` for a fact of day `on`: a municipality that merged away only after
    that day was a body of its own then (a merger counts from the day it took effect,
    `merged_on`; one recorded without that day counts always)."""
    require_active(state, code, on)


def require_registered_by(state: OrganisationState, code: str, what: str, valid_on: date) -> None:
    """Refuse a fact about `code` dated before its registration (ORGANISATION_NOT_YET_REGISTERED):
    every view folds an organisation in valid-time order, and it does not exist before then."""
    first = first_day_after(valid_on, state.registered_on)
    if first is None:
        return
    raise RuleViolation(
        "ORGANISATION_NOT_YET_REGISTERED",
        why_not_before(
            what,
            valid_on,
            f"the registration of {code}",
            first,
            f"If {code} existed earlier under that name (a CBS list loaded today, a merger"
            f" recorded afterwards), date its registration back first: send"
            f" RegisterOrganisation for {code} again with the name, kind and province it was"
            f" registered with ({state.registered_name!r}, {state.kind}, {state.province}) and"
            f" occurredAt on or before {valid_on}. A former name it had before that day cannot"
            f" be recorded yet (docs/valid-time.md, known limits).",
        ),
    )


def register(
    state: OrganisationState, command: RegisterOrganisation, valid_on: date
) -> Sequence[DomainEvent]:
    check_code(command.code)
    if is_municipality_code(command.code) != (command.kind == "municipality"):
        raise RuleViolation(
            "ORGANISATION_KIND_MISMATCH",
            f"{command.code} is registered as kind {command.kind!r}, but CBS codes (GM####)"
            " belong to municipalities and only to them",
        )
    event = OrganisationRegistered(
        code=command.code,
        name=command.name,
        kind=command.kind,
        province=command.province,
        registered_on=valid_on,
    )
    if not state.registered:
        return [event]
    earlier = state.registered_on is not None and valid_on < state.registered_on
    if earlier and state.registered_as(event) and state.name == state.registered_name:
        # The same registration, dated back (see OrganisationState). Only while it bears the
        # name it was registered with: readers that keep the latest name recorded (the
        # notifier's recipients, the reference-data update) then read the same name.
        return [event]
    if earlier and state.name != state.registered_name:
        raise RuleViolation(
            "ORGANISATION_ALREADY_REGISTERED",
            f"{command.code} was renamed ({state.registered_name!r} -> {state.name!r}) after"
            f" its registration on {state.registered_on}; a renamed organisation's"
            " registration can no longer be dated back, so record facts about it from that"
            " day on",
        )
    if not earlier and (state.name, state.kind, state.province) == (
        event.name,
        event.kind,
        event.province,
    ):
        return []  # the same registration again changes nothing
    if earlier:
        raise RuleViolation(
            "ORGANISATION_ALREADY_REGISTERED",
            f"{command.code} is registered from {state.registered_on} as"
            f" {state.registered_name!r} ({state.kind}, {state.province}); to date that"
            " registration back, send it again with those same details and the earlier"
            " occurredAt (a later name is a rename)",
        )
    raise RuleViolation(
        "ORGANISATION_ALREADY_REGISTERED",
        f"{command.code} is already registered as {state.name!r} ({state.kind});"
        " rename it instead of registering it again",
    )


def register_from_reference_list(
    state: OrganisationState, command: RegisterOrganisation, valid_on: date
) -> Sequence[DomainEvent]:
    """Reference data: a municipality already known (perhaps renamed since) is left alone."""
    return [] if state.registered else register(state, command, valid_on)


def rename(
    state: OrganisationState, command: RenameOrganisation, valid_on: date
) -> Sequence[DomainEvent]:
    require_active(state, command.code, valid_on)  # a name it bore before its merger
    require_registered_by(state, command.code, f"the rename of {command.code}", valid_on)
    if state.named_on is not None and valid_on < state.named_on:
        # Names follow each other in valid time: a rename dated before the current name
        # would make the owner's current name and every view's current name differ.
        raise RuleViolation(
            "RENAME_OUT_OF_ORDER",
            f"{command.code} has been named {state.name!r} since {state.named_on}; a rename"
            f" dated {valid_on} lies before that. Names are recorded in the order they took"
            " effect: date the rename on or after that day",
        )
    if command.name == state.name:
        return []
    return [
        OrganisationRenamed(
            code=command.code, name=command.name, previous_name=state.name, renamed_on=valid_on
        )
    ]


def merge(
    state: OrganisationState,
    command: MergeMunicipality,
    successor: OrganisationState,
    valid_on: date,
) -> Sequence[DomainEvent]:
    require_registered(state, command.code)
    if state.successor_code == command.successor_code and state.merged_on == command.effective_on:
        return []
    require_active(state, command.code)
    require_registered_by(
        state, command.code, f"the merger of {command.code} into {command.successor_code}", valid_on
    )
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
    # Judged by the world of the merger's day: a successor that merged away only after it
    # still took this municipality over then (A into B in 2019, B into C in 2022); from
    # B's merger on, what was A's passes on to C (`codes.acting_successor`).
    gone_on = successor.merged_on
    if successor.successor_code is not None and (
        gone_on is None or gone_on <= command.effective_on
    ):
        raise RuleViolation(
            "SUCCESSOR_MERGED",
            f"the successor {command.successor_code} itself merged into"
            f" {successor.successor_code} on {gone_on}, by this merger's day"
            f" ({command.effective_on}); name {successor.successor_code}",
        )
    require_registered_by(
        successor,
        command.successor_code,
        f"the merger of {command.code} into {command.successor_code}",
        valid_on,
    )
    return [
        MunicipalityMerged(
            code=command.code,
            successor_code=command.successor_code,
            effective_on=command.effective_on,
        )
    ]
