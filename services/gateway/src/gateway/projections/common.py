"""Small helpers shared by the read models: payload access, dates, org codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from eventstore.store import StoredEvent

ORG_CODE = re.compile(r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20})$")


def payload(event: StoredEvent) -> dict[str, Any]:
    return event.envelope.payload


def day(value: Any) -> date | None:
    """An ISO date (or datetime) string from a payload, as a date; None stays None."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def occurred_on(event: StoredEvent) -> date:
    return event.envelope.occurred_at.date()


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
