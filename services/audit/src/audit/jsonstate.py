"""The owners' typed fold states as JSON, generically (no per-aggregate code).

Dataclass fields, then their public properties (the fold's derived facts: a tender's
`phase`, a contract's `ended_on`), become keys; enums become their values (the fold's own
words), dates ISO text, Decimal exact text (as GraphQL's Decimal shows it), tuples and
frozensets lists, mappings objects; pydantic values kept in a state (a fold's `LawFinding`s)
objects of their fields.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

JSON = Any


_PLAIN = frozenset({str, int, float, bool, type(None)})  # exactly these: no Enum among them


def to_json(value: Any) -> JSON:
    kind: type = type(value)
    if kind in _PLAIN:  # most of a state's leaves: answered before the checks below
        return value
    form = _form(kind)
    if form == "record":
        return {name: to_json(getattr(value, name)) for name in _keys(kind)}
    if form == "items":
        return [to_json(v) for v in value]
    if form == "as is":
        return value
    if form == "enum":
        return to_json(value.value)
    if form == "iso":
        return value.isoformat()
    if form == "text":
        return str(value)
    if form == "model":
        return {name: to_json(getattr(value, name)) for name in type(value).model_fields}
    if form == "mapping":
        return {str(k): to_json(v) for k, v in value.items()}
    if form == "set":
        return sorted(to_json(v) for v in value)
    raise TypeError(f"no JSON form for {kind.__name__}")


# Which form a type takes, found once per type (the checks in this order, as they were made
# for every value: an Enum before str, a StrEnum being a str; a class itself is no record):
# the checks were ~a third of a state's rendering, which grows with the state (a contract's
# amendments), in a profile of the audit's history under 100 amendments a second (fresh24).
@functools.cache
def _form(kind: type) -> str:
    if issubclass(kind, Enum):
        return "enum"
    if kind is type(None) or issubclass(kind, bool | int | float | str):
        return "as is"
    if issubclass(kind, datetime | date):
        return "iso"
    if issubclass(kind, Decimal):
        return "text"
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        return "record"
    if issubclass(kind, BaseModel):
        return "model"
    if issubclass(kind, Mapping):
        return "mapping"
    if issubclass(kind, frozenset | set):
        return "set"
    if issubclass(kind, tuple | list):
        return "items"
    return "none"


# A type's keys are found once: walking its fields and its classes' members for every state
# rendered was a third of the audit's history projection (`TemporalProjection.apply`) in a
# profile of the kept-folds test. A dict keeps the order (fields, then properties) and a
# property named like a field still overwrites the field's value, as before.
@functools.cache
def _keys(kind: type) -> tuple[str, ...]:
    fields = [f.name for f in dataclasses.fields(kind)]
    properties = [
        name
        for klass in reversed(kind.__mro__)
        for name, member in vars(klass).items()
        if isinstance(member, property) and not name.startswith("_")
    ]
    return tuple(dict.fromkeys(fields + properties))
