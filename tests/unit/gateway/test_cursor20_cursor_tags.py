"""A cursor's text is json.dumps([list, fingerprint, key]) (cursor20); the fingerprint is of
the arguments that choose the rows and of the order, however they were written."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import pytest

from gateway.schema.pagination import _encode, _opening, cursor_tag

ORDER = [("end_date", False), ("contract_id", False)]


class Phase(Enum):
    AWARDED = "awarded"


def text(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


@pytest.mark.parametrize(
    "values",
    [
        [date(2026, 11, 30), "C-2026-0001"],
        [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "registry", 17],
        ['quote " backslash \\ newline \n', "ünïcödé ✓", "\u0000"],
        [True, None, 1.5],
    ],
)
def test_the_cursor_is_the_json_of_list_fingerprint_and_key(values: list[Any]) -> None:
    tag = cursor_tag("contracts", {"filter": {"kind": ["FRAMEWORK"]}}, ORDER)
    plain = [v.isoformat() if isinstance(v, date) else v for v in values]
    assert text(_encode(values, _opening(tag))) == json.dumps([*tag, plain])


def test_what_is_not_given_or_written_otherwise_is_the_same() -> None:
    at = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    base = cursor_tag("tenders", {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at}, ORDER)
    same = [
        # paging arguments, nulls, empty input objects and lists, another offset
        {"filter": {"phase": [Phase.AWARDED], "programmeId": None}, "knownAt": at, "first": 5},
        {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at.astimezone(UTC), "after": "x"},
        {
            "filter": {"phase": [Phase.AWARDED], "x": [], "y": {}},
            "knownAt": at,
            "consistencyToken": "REGISTRY:1",
            "orderBy": {"field": "TITLE"},  # the order counts by its columns (ORDER)
            "asOf": None,
        },
    ]
    for arguments in same:
        assert cursor_tag("tenders", arguments, ORDER) == base, arguments
    other = [
        ("contracts", {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at}, ORDER),
        ("tenders", {"filter": {"phase": [Phase.AWARDED]}}, ORDER),
        (
            "tenders",
            {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at, "asOf": date.today()},
            ORDER,
        ),
        ("tenders", {"filter": {"phase": []}, "knownAt": at}, ORDER),
        ("tenders", {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at}, ORDER[1:]),
        (
            "tenders",
            {"filter": {"phase": [Phase.AWARDED]}, "knownAt": at},
            [("end_date", True), ORDER[1]],
        ),
    ]
    for name, arguments, order in other:
        assert cursor_tag(name, arguments, order) != base, (name, arguments, order)
    assert base[0] == "tenders"
    assert len(base[1]) == 8
    int(base[1], 16)
