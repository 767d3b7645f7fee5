"""The owners' typed fold states as JSON, generically (no per-aggregate code).

Dataclass fields, then their public properties (the fold's derived facts: a tender's
`phase`, a contract's `ended_on`), become keys; enums become their values (the fold's own
words), dates ISO text, Decimal exact text (as GraphQL's Decimal shows it), tuples and
frozensets lists, mappings objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

JSON = Any


def to_json(value: Any) -> JSON:
    if isinstance(value, Enum):  # before str: a StrEnum is a str
        return to_json(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in _properties(type(value)):
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _properties(kind: type) -> list[str]:
    return [
        name
        for klass in reversed(kind.__mro__)
        for name, member in vars(klass).items()
        if isinstance(member, property) and not name.startswith("_")
    ]
