"""`Date` and `DateTime` as strawberry's, bounded to the days every clock can represent.

Python's dates end at 0001-01-01 and 9999-12-31: a range or a day's end reckoned from the
last day has no day after it, a `knownAt` early on 0001-01-01 has no UTC instant. Such a value is
refused while the arguments are coerced, as a malformed date is, naming the range, instead
of failing inside a resolver as an "Unexpected error".
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import dateutil.parser
from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    wrap_parser,
)
from strawberry.types.scalar import ScalarDefinition

FIRST = date(1, 1, 2)
LAST = date(9999, 12, 30)
RANGE = f"out of range: from {FIRST.isoformat()} to {LAST.isoformat()}"


def _date(value: str) -> date:
    parsed = date.fromisoformat(value)
    if not FIRST <= parsed <= LAST:
        raise ValueError(RANGE)
    return parsed


def _datetime(value: str) -> datetime:
    parsed: datetime = dateutil.parser.isoparse(value)
    try:
        day = parsed.astimezone(UTC).date() if parsed.tzinfo else parsed.date()
    except OverflowError:
        raise ValueError(RANGE) from None
    if not FIRST <= day <= LAST:
        raise ValueError(RANGE)
    return parsed


BOUNDED_DATE: ScalarDefinition = dataclasses.replace(
    DateDefinition, parse_value=wrap_parser(_date, "Date")
)
BOUNDED_DATETIME: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition, parse_value=wrap_parser(_datetime, "DateTime")
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {date: BOUNDED_DATE, datetime: BOUNDED_DATETIME}
