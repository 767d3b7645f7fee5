"""Small helpers shared by the read models: reading a fold, org codes, UTC timestamps."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator

from contracts_schema.folds import Fold
from eventstore.timeline import Image, Patch
from eventstore.versioned import Reading

ORG_CODE = re.compile(r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20})$")


def organisation_codes(value: Any) -> Iterator[str]:
    """Every organisation code anywhere in a payload (for filters and access rules)."""
    if isinstance(value, str):
        if ORG_CODE.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from organisation_codes(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from organisation_codes(item)


# A code as a whole JSON string value in `json.dumps` text (ensure_ascii, ", " and ": "
# separators): an unescaped quote opens a string only after "[", "{" or a separator's space
# (inside a string every quote is escaped), and a key is followed by ":".
_CODE_VALUE = re.compile(r'(?<=[\[{ ])"((?:GM\d{4}|KVK-\d{8}|OIN-\d{20})(?:\\n)?)"(?!:)')


def organisation_codes_in(payload: dict[str, Any]) -> set[str]:
    """`set(organisation_codes(payload))`, found in one pass of C over the payload's JSON
    text instead of a Python walk of every value (the event log's largest cost in a rebuild).
    """
    return organisation_codes_in_json(json.dumps(payload))


def organisation_codes_in_json(text: str) -> set[str]:
    """`organisation_codes_in` of a payload already encoded by `json.dumps(payload)`."""
    # `ORG_CODE`'s "$" also matches before a final newline: such a value is kept as it is.
    return {c.replace("\\n", "\n") for c in _CODE_VALUE.findall(text)}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite stores them naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_utc_text(value: datetime) -> str:
    """What `UtcDateTime` stores on SQLite for an aware datetime (its bind processing and
    SQLite's DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC), in one step."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def reading(
    fold: Fold[Any],
    image: Callable[[Any], Image],
    patch: Callable[[Any, Any], Patch | None] | None = None,
    commutes: bool = False,
) -> Reading:
    """A read model reads an aggregate type through its owner's fold, as `image` shows it
    (and, optionally, `patch`: only the rows one event touched). `commutes`: the events the
    owner's fold says commute (`Fold.commute`) never change the rows of `image` the other
    touches, so a backdated one is laid over the later states (`Timeline`)."""
    return Reading(
        initial=fold.initial,
        evolve=fold.evolve,
        image=image,
        # What the owner's fold says it handles or ignores: a new event its fold has not
        # declared is undeclared here too.
        events=frozenset(m.event_type for m in fold.handled | fold.ignored),
        patch=patch,
        commutes=fold.commute if commutes and patch is not None else None,
    )
