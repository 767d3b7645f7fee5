"""The importer compiles each release onto the ones before it incrementally; the result is
`ocdsmerge`'s compile of them all, whatever their order or dates, and whether or not a
release was accepted (an unmapped one is not merged into the next)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.importer import _Compiling
from audit.ocds.packages import merger
from bench.suites.ocds_import import package

DATA = Path(__file__).parents[2] / "service" / "data" / "ocds"
FICTIONAL: list[dict[str, Any]] = json.loads((DATA / "fictional-releases.json").read_text())[
    "releases"
]
BENCH: list[dict[str, Any]] = json.loads(package(1))["releases"]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([FICTIONAL, BENCH]).flatmap(st.permutations),
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.booleans(),
)
def test_incremental_compile_is_the_full_compile(
    releases: list[dict[str, Any]], accepted: list[bool], same_date: bool
) -> None:
    if same_date:  # ties: the order given decides, as in the library's stable sort
        releases = [{**r, "date": releases[0]["date"]} for r in releases]
    compiling = _Compiling(releases[:1])
    for release, take in zip(releases[1:], accepted, strict=False):
        expected = merger().create_compiled_release([*compiling.releases, release])
        assert compiling.with_release(release) == expected
        if take:
            compiling.take(release)
