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
    if type(value) in _PLAIN:  # most of a state's leaves: answered before the checks below
        return value
    if isinstance(value, Enum):  # before str: a StrEnum is a str
        return to_json(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_json(getattr(value, name)) for name in _keys(type(value))}
    if isinstance(value, BaseModel):  # a wire value a fold keeps (its findings): its fields
        return {name: to_json(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


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
