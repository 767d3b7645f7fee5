"""The schema explains itself: closed value sets are enums, every mutation says what it does.

`FREE_STRINGS` lists every String field, argument and input field of the schema that is not an
id, a code, a name or prose, each with why its values are open; a String whose contract field
is a closed set (a `Literal` or an enum in `contracts_schema`) fails, and so does a new String
nobody classified.
"""

from __future__ import annotations

import re
import typing
from enum import Enum
from typing import Literal, get_args, get_origin

from graphql import GraphQLInputObjectType, GraphQLObjectType, get_named_type
from pydantic import BaseModel

from contracts_schema.catalogue import COMMAND_MODELS
from gateway.schema.build import build_schema
from gateway.schema.enums import (
    CallOffProcedure,
    DateKind,
    OrganisationKind,
    Procedure,
    ReviewOutcome,
)

# Open by their nature: identifiers, codes, references, names and prose.
OPEN_NAMES = re.compile(
    r"(Id|Ids|Code|Codes|Ref|Reference|Token|Cursor|By|Into|Reason|Rationale)$|^(id|key|name|title|summary|"
    r"message|reason|description|error|path|aggregate|forum|after|cursor|code|url|"
    r"lastAmendment|endCursor|position|stream|actor|coordinator|csvText|source|"
    r"contractingAuthority|payingAgent|toAuthority|buyer|reference|recipients|search)$"
)

# The rest, each with why its values are open.
FREE_STRINGS = {
    "Event.eventType": "the contract's event type names (grows with the contract; versioned)",
    "EventFilter.eventTypes": "as Event.eventType",
    "LiveEventFilter.eventTypes": "as Event.eventType",
    "AppendedEvent.eventType": "as Event.eventType",
    "ParkedEvent.eventType": "as Event.eventType",
    "TimelineEvent.eventType": "as Event.eventType",
    "SubscribeWebhookInput.eventTypes": "CloudEvents types, e.g. nl.gt.contract.expiring.v1",
    "Organisation.province": "CBS reference data (loaded, not coded)",
    "LawFinding.subject": "what a finding is about: a lot or contract id of the imported process",
    "LawFindingRecord.subject": "as LawFinding.subject",
    "Query.organisations(province)": "as Organisation.province",
    "ParkedEvent.projection": "read model names (one per installed projection)",
    "ProjectionHealth.name": "as ParkedEvent.projection",
    "Health.problems": "sentences for an operator: why health is not ok",
    "Contract.endReason": "free text of a termination, or the expiry",
    "Tender.marketConsultationSummary": "free text: what the market consultation found",
    "RegisterOrganisationInput.province": "as Organisation.province",
    "Query.history(aggregate)": "`<type>/<id>`: an aggregate reference",
    "Query.entitiesAsOf(aggregateType)": "the audit's aggregate types, given with the context",
    "ProgrammeProvinceRate.province": "as Organisation.province",
    "DomainError.code": "the refusal-code catalogue (its own enum is another change's)",
    "InvalidInput.code": "as DomainError.code",
    "PermissionDenied.code": "as DomainError.code",
    "HistoricalState.aggregateType": "echoes the type part of history(aggregate:)",
    "Mutation.erasePerson(subject)": "a login subject (the identity provider's `sub`)",
    "FieldChange.path": "a field path",
    "FieldHistory.path": "a field path",
}


def string_fields() -> dict[str, str]:
    """Every String in the schema as `Type.field`, `Type.field(arg)` or `Input.field`."""
    schema = build_schema()._schema
    found: dict[str, str] = {}
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLObjectType):
            for name, field in type_.fields.items():
                if get_named_type(field.type).name == "String":
                    found[f"{type_.name}.{name}"] = name
                for arg, argument in field.args.items():
                    if get_named_type(argument.type).name == "String":
                        found[f"{type_.name}.{name}({arg})"] = arg
        if isinstance(type_, GraphQLInputObjectType):
            for name, input_field in type_.fields.items():
                if get_named_type(input_field.type).name == "String":
                    found[f"{type_.name}.{name}"] = name
    return found


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _closed(annotation: object) -> bool:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _closed(get_args(annotation)[0])
    if origin is not None and origin is not Literal:
        return any(_closed(a) for a in get_args(annotation))
    if origin is Literal:
        return len(get_args(annotation)) > 1
    return isinstance(annotation, type) and issubclass(annotation, Enum)


def closed_contract_fields() -> set[str]:
    """camelCase names of the commands' fields whose values form a closed set."""
    names: set[str] = set()
    seen: set[type] = set()
    models: list[type[BaseModel]] = list(COMMAND_MODELS)
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if _closed(info.annotation):
                names.add(_camel(name))
            for arg in get_args(info.annotation) or (info.annotation,):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    models.append(arg)
    return names


def test_every_free_string_is_an_open_set() -> None:
    fields = string_fields()
    free = sorted(k for k, name in fields.items() if not OPEN_NAMES.search(name))
    print("free-string fields:", *free, sep="\n  ")
    unclassified = [k for k in free if k not in FREE_STRINGS]
    assert unclassified == [], (
        f"classify these (enum, or FREE_STRINGS with a reason): {unclassified}"
    )
    stale = sorted(set(FREE_STRINGS) - set(fields))
    assert stale == [], f"no longer in the schema: {stale}"


def test_no_string_carries_a_closed_contract_set() -> None:
    closed = closed_contract_fields()
    assert {"procedure", "kind", "outcome", "dateKind", "contractKind"} <= closed
    offenders = sorted(k for k, name in string_fields().items() if name in closed)
    assert offenders == []


def test_the_named_closed_sets_are_enums() -> None:
    sdl = build_schema().as_str()
    for line in (
        "procedure: Procedure!",
        "procedure: CallOffProcedure!",
        "outcome: ReviewOutcome",
        "kind: OrganisationKind!",
        "context: EventContext!",
        "context: EventContext = null",
        "aggregateType: AggregateType = null",
        "status: ParticipantStatus!",
        "kind: ContractKind!",
    ):
        assert line in sdl, line


def test_enums_hold_the_contracts_literals() -> None:
    from contracts_schema.enrolment.events import CallOffProcedure as CallOffLiteral
    from contracts_schema.enrolment.events import OrganisationKind as KindLiteral
    from contracts_schema.notifier.events import DateKind as DateKindLiteral
    from contracts_schema.registry.values import Procedure as ProcedureLiteral
    from contracts_schema.registry.values import ReviewOutcome as OutcomeLiteral

    for enum, literal in (
        (Procedure, ProcedureLiteral),
        (CallOffProcedure, CallOffLiteral),
        (ReviewOutcome, OutcomeLiteral),
        (OrganisationKind, KindLiteral),
        (DateKind, DateKindLiteral),
    ):
        assert [e.value for e in enum] == list(get_args(literal)), enum.__name__


def test_every_mutation_is_described_by_its_command() -> None:
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    bare = [
        name
        for name, field in mutation.fields.items()
        if not field.description or field.description.lower().replace(" ", "") == name.lower()
    ]
    assert bare == []
    by_type = {m.command_type: m for m in COMMAND_MODELS}
    enrol = mutation.fields["enrolParticipant"].description
    # the whole docstring, then who may send it (gateway.policy's table)
    doc = " ".join((by_type["EnrolParticipant"].__doc__ or "").split())
    assert enrol == f"{doc} (coordinators, and a participant for its own organisation.)"
