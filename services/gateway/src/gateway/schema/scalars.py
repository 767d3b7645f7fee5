"""`Date` and `DateTime` as strawberry's, bounded to the days every clock can represent.

Python's dates end at 0001-01-01 and 9999-12-31: a range or a day's end reckoned from the
last day has no day after it, a `knownAt` early on 0001-01-01 has no UTC instant. Such a value is
refused while the arguments are coerced, as a malformed date is, naming the range, instead
of failing inside a resolver as an "Unexpected error".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime

import dateutil.parser
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    wrap_parser,
)
from strawberry.types.scalar import ScalarDefinition

from contracts_schema.errors import SHOWN_MAX, shown

FIRST = date(1, 1, 2)
LAST = date(9999, 12, 30)
RANGE = f"out of range: from {FIRST.isoformat()} to {LAST.isoformat()}"
# What a malformed value is told: the form, not only the parser's complaint ('Invalid
# isoformat string', 'Expected 4 digits'), for a coordinator typing 13-11-2020.
DATE_FORM = "expected a day as YYYY-MM-DD, e.g. 2020-11-13"
DATETIME_FORM = (
    "expected an ISO 8601 date and time with its UTC offset, e.g. 2020-11-13T10:00:00+01:00"
    " or 2020-11-13T09:00:00Z"
)


def _date(value: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; {DATE_FORM}") from None
    if not FIRST <= parsed <= LAST:
        raise ValueError(RANGE)
    return parsed


def _datetime(value: str) -> datetime:
    try:
        parsed: datetime = dateutil.parser.isoparse(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; {DATETIME_FORM}") from None
    try:
        day = parsed.astimezone(UTC).date() if parsed.tzinfo else parsed.date()
    except OverflowError:
        raise ValueError(RANGE) from None
    if not FIRST <= day <= LAST:
        raise ValueError(RANGE)
    return parsed


def _parser(parse: Callable[[str], object], type_: str, form: str) -> Callable[[object], object]:
    """strawberry's parser, but a value longer than any day or instant is refused with its
    first characters only: strawberry repeats the value whole, and the parser's complaint
    repeats it again (a 100,000-character `asOf` made a 200,000-character error, correct22)."""
    parse_short = wrap_parser(parse, type_)

    def parse_value(value: object) -> object:
        if len(str(value)) > SHOWN_MAX:
            raise StrawberryInputCoercionError(
                f"Value cannot represent a {type_}: {shown(value)}; {form}"
            )
        return parse_short(value)

    return parse_value


BOUNDED_DATE: ScalarDefinition = dataclasses.replace(
    DateDefinition, parse_value=_parser(_date, "Date", DATE_FORM)
)
BOUNDED_DATETIME: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition, parse_value=_parser(_datetime, "DateTime", DATETIME_FORM)
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {date: BOUNDED_DATE, datetime: BOUNDED_DATETIME}
