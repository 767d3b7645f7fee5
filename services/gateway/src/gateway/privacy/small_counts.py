"""Small-count suppression of the public participation statistics (docs/security.md).

Who enrolled in a tender is shown to coordinators and auditors and, of its own enrolments, to
a participant; nobody else. A count per province can still tell it: a province where one
municipality enrolled, or where all or all but one did, names their enrolment to anyone who
knows the province's municipalities. So for a reader who does not see every enrolment, a
row is left out when fewer than `MIN_COUNT` municipalities of it take part, or fewer than
`MIN_COUNT` do not; and, as the rows left out could be recovered from the national total
minus the rows shown, more rows are left out (smallest first) until those left out together
also hold at least `MIN_COUNT` of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

MIN_COUNT = 3

R = TypeVar("R")


def publishable(
    rows: Sequence[R], counts: Callable[[R], tuple[int, int]], minimum: int = MIN_COUNT
) -> list[R]:
    """The rows that may be shown; `counts(row)` is (taking part, municipalities). `rows` is
    one partition (one programme's provinces, or all provinces): the total of it is public."""

    def small(part: int, whole: int) -> bool:
        return part < minimum or whole - part < minimum

    sizes = [counts(r) for r in rows]
    hidden = {i for i, size in enumerate(sizes) if small(*size)}
    shown = sorted((i for i in range(len(rows)) if i not in hidden), key=lambda i: sizes[i][1])
    while hidden and shown:
        part = sum(sizes[i][0] for i in hidden)
        whole = sum(sizes[i][1] for i in hidden)
        if not small(part, whole):
            break
        hidden.add(shown.pop(0))
    return [r for i, r in enumerate(rows) if i not in hidden]
