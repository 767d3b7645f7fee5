"""Which organisations a command names: fields marked `NAMES_ORGANISATION`.

Every command field that refers to an organisation (an authority, buyer, supplier,
participant, paying agent, transferee) carries the marker in its annotated type, so the
services can require each named organisation to be registered without listing fields by
hand (a new command field with an organisation type is covered by construction).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from contracts_schema.errors import RuleViolation


class _NamesOrganisation:
    """Annotation marker: the string is the code of an organisation that must exist."""

    def __repr__(self) -> str:
        return "NAMES_ORGANISATION"


NAMES_ORGANISATION = _NamesOrganisation()


def _marked(annotation: Any) -> tuple[bool, list[type[BaseModel]]]:
    """Whether `annotation` (anywhere inside) is a marked string, and the models it holds."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extras = get_args(annotation)
        marked, models = _marked(inner)
        return marked or any(e is NAMES_ORGANISATION for e in extras), models
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        marked, models = False, []
        for arg in get_args(annotation):
            m, ms = _marked(arg)
            marked, models = marked or m, models + ms
        return marked, models
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, [annotation]
    return False, []


@functools.cache
def _fields_naming(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """The fields of `model` that may name an organisation: (name, whether the field itself
    is a marked string), the others holding models. Worked out once per model: walking the
    annotations was a sixth of a registry command's CPU (twice per command)."""
    fields = []
    for name, info in model.model_fields.items():
        marked, models = _marked(info.annotation)
        # pydantic moves a field's top-level Annotated extras into `metadata`.
        marked = marked or any(m is NAMES_ORGANISATION for m in info.metadata)
        if marked or models:
            fields.append((name, marked))
    return tuple(fields)


def named_organisations(value: BaseModel) -> frozenset[str]:
    """Every organisation code `value` (a command) names, in nested values and lists too."""
    found: set[str] = set()
    for name, marked in _fields_naming(type(value)):
        for item in _items(getattr(value, name)):
            if marked and isinstance(item, str):
                found.add(item)
            elif isinstance(item, BaseModel):
                found |= named_organisations(item)
    return frozenset(found)


def _items(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


@dataclass(frozen=True)
class Merged:
    """A municipality that merged away: its successor, from the day the merger took effect."""

    successor: str
    effective_on: date


@dataclass(frozen=True)
class WithOrganisations:
    """A decision's facts, plus which of the organisations its command names are registered
    and which of them merged away."""

    registered: frozenset[str]
    facts: object = None
    merged: Mapping[str, Merged] = dataclasses.field(default_factory=dict)


def require_registered(command: BaseModel, registered: frozenset[str]) -> None:
    unknown = sorted(named_organisations(command) - registered)
    if unknown:
        raise RuleViolation(
            "ORGANISATION_UNKNOWN",
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not registered;"
            " every organisation a command names must exist first (municipalities come from"
            " the CBS list, other bodies and suppliers are registered with their KvK number"
            " or OIN: RegisterOrganisation)",
        )


def require_not_merged(command: BaseModel, merged: Mapping[str, Merged], on: date) -> None:
    """A municipality no longer acts from the day its merger took effect: a command that names
    it for a fact of that day or later (a transfer to it, a contract it signs) is refused; one
    dated before then (recorded late) is its own."""
    gone = sorted(
        code
        for code in named_organisations(command)
        if code in merged and merged[code].effective_on <= on
    )
    if gone:
        code = gone[0]
        successor, day = merged[code].successor, merged[code].effective_on
        acting = acting_on(successor, merged, on)
        through = f" (which merged into {acting} since)" if acting != successor else ""
        raise RuleViolation(
            "ORGANISATION_MERGED",
            f"municipality {code} merged into {successor} on {day}{through} and no longer acts"
            f" (this fact is of {on}); name {acting}, which took over its participations",
        )


def acting_on(code: str, merged: Mapping[str, Merged], on: date) -> str:
    """The municipality acting for `code` on day `on`, through the mergers in effect then
    (A into B, later B into C: C from the day B merged, B before)."""
    seen = {code}
    while code in merged and merged[code].effective_on <= on and merged[code].successor not in seen:
        code = merged[code].successor
        seen.add(code)
    return code


S = TypeVar("S")
C = TypeVar("C", bound=BaseModel)
R = TypeVar("R")


def checking_organisations(
    decide: Callable[[S, C, Any], Sequence[R]],
) -> Callable[[S, C, Any], Sequence[R]]:
    """`decide`, refusing first a command that names an unregistered organisation, or a
    municipality that had merged away by the command's valid day (`ctx.valid_on`).

    The decision context (a dataclass with `facts`) must carry `WithOrganisations` facts,
    loaded beforehand (`eventstore.folded.with_organisations`); `decide` gets the inner facts.
    """

    def checked(state: S, command: C, ctx: Any) -> Sequence[R]:
        facts = ctx.facts
        if not isinstance(facts, WithOrganisations):
            raise TypeError("checking_organisations needs WithOrganisations facts")
        require_registered(command, facts.registered)
        require_not_merged(command, facts.merged, ctx.valid_on)
        return decide(state, command, dataclasses.replace(ctx, facts=facts.facts))

    return checked
