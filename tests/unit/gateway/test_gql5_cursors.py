"""The compiled plans write a page's cursors themselves: byte for byte `pagination`'s."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.schema.compiled import _cursor
from gateway.schema.pagination import _encode, _opening, cursor_tag

OPENING = _opening(cursor_tag("expiringContracts", {}, [("end_date", False)]))

VALUES: list[list[Any]] = [
    [date(2026, 11, 30), "C-2026-0001"],
    [datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "registry", 17],
    [datetime(2026, 1, 2, 3, 4, 5), "s", 0],  # naive, no microseconds
    [datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=1))), "x", -3],
    ['quote " backslash \\ newline \n', "ünïcödé ✓", "\u0000"],
    [2**70, -(2**70)],
    [True, None, 1.5],  # not written out: pagination's own encoder
    [date(1, 1, 1), ""],
]


@pytest.mark.parametrize("values", VALUES)
def test_a_plan_cursor_is_the_pagination_cursor(values: list[Any]) -> None:
    assert _cursor(values, OPENING) == _encode(values, OPENING)
