"""The incremental compile's order check (helper import39): a release is merged onto the
last compile when the releases so far and it come in the order the library sorts them
(`sorted_releases`: stable, by date), found from the last release's date alone -- not by
sorting every release so far again for each new one. Whatever the dates (ties, out of
order, missing, null, not text), the compile is the library's, or its error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.importer import _Compiling
from audit.ocds.packages import merger

DATA = Path(__file__).parents[2] / "service" / "data" / "ocds"
FICTIONAL: list[dict[str, Any]] = json.loads((DATA / "fictional-releases.json").read_text())[
    "releases"
]
DATES = sorted({r["date"] for r in FICTIONAL})


class _Counted(str):
    """A date whose comparisons are counted."""

    compared: ClassVar[list[int]] = [0]

    def __lt__(self, other: object) -> bool:
        self.compared[0] += 1
        return str.__lt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        self.compared[0] += 1
        return str.__gt__(self, other)  # type: ignore[operator]


def _expected(releases: list[dict[str, Any]]) -> Any:
    try:
        return merger().create_compiled_release(releases)
    except Exception as exc:  # the library's own error
        return type(exc)


def _compiled(compiling: _Compiling, release: dict[str, Any]) -> Any:
    try:
        return compiling.with_release(release)
    except Exception as exc:
        return type(exc)


# A date as published, a tie, missing, null, or not text.
_DATE = st.one_of(st.sampled_from(DATES), st.just("missing"), st.none(), st.integers(0, 3))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(FICTIONAL) - 1), _DATE), min_size=1, max_size=7),
    st.lists(st.booleans(), min_size=7, max_size=7),
    st.integers(0, 2),
)
def test_the_compile_is_the_librarys_whatever_the_dates(
    drawn: list[tuple[int, Any]], taken: list[bool], given_first: int
) -> None:
    releases = []
    for n, (which, date) in enumerate(drawn):
        release = {**FICTIONAL[which], "id": f"r{n}"}
        if date == "missing":
            del release["date"]
        else:
            release["date"] = date
        releases.append(release)
    compiling = _Compiling(releases[:given_first])
    for release, take in zip(releases[given_first:], taken, strict=False):
        expected = _expected([*compiling.releases, release])
        assert _compiled(compiling, release) == expected
        if take and not isinstance(expected, type):
            compiling.take(release)


@pytest.mark.parametrize("count", [8, 40])
def test_each_release_is_placed_by_one_comparison(count: int) -> None:
    """A process of `count` releases in date order compares each new release's date with
    the last one's only: about one comparison a release, not a sort of all so far."""
    base = FICTIONAL[0]
    releases = [
        {**base, "id": f"r{n}", "date": _Counted(f"2024-01-{1 + n // 24:02d}T{n % 24:02d}:00:00Z")}
        for n in range(count)
    ]
    _Counted.compared[0] = 0
    compiling = _Compiling([])
    for release in releases:
        assert compiling.with_release(release) is not None
        compiling.take(release)
    assert _Counted.compared[0] <= count
    assert compiling.with_release({**base, "id": "last", "date": "2025-01-01T00:00:00Z"}) == (
        merger().create_compiled_release([*releases, {**base, "id": "last",
                                                      "date": "2025-01-01T00:00:00Z"}])
    )  # fmt: skip
