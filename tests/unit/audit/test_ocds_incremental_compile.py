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
from audit.ocds.schemas import errors
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


# Empty arrays, empty objects and nulls (import16): where issue 17 found the hand-written
# merge differing from ocdsmerge (10 of its 34 cases, all of them about empty arrays or
# objects), the importer's incremental compile must still be the library's full compile.
# Releases of the published example with values anywhere replaced by [], {} or null, a
# section emptied in one release and filled again in a later one included; each changed
# release still valid against the schema.
def _places(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    places = [at] if at else []
    if isinstance(node, dict):
        for key, value in node.items():
            places += _places(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            places += _places(value, (*at, i))
    return places


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _emptied(release: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = json.loads(json.dumps(release))
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return changed


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_emptied_values_compile_incrementally_as_the_library_compiles_them(
    data: st.DataObject,
) -> None:
    releases = list(FICTIONAL)
    for _ in range(data.draw(st.integers(1, 4))):
        n = data.draw(st.integers(0, len(releases) - 1))
        places = [p for p in _places(releases[n]) if p[0] not in ("ocid", "id", "date", "tag")]
        path = data.draw(st.sampled_from(places))
        current = _at(releases[n], path)
        # Emptied as its kind: an array [], an object {}, a value null.
        value = [] if isinstance(current, list) else {} if isinstance(current, dict) else None
        changed = _emptied(releases[n], path, value)
        # The importer compiles only releases valid against the schema (it checks first).
        if errors(changed, "release-schema.json") == []:
            releases[n] = changed
    compiling = _Compiling(releases[:1])
    for release in releases[1:]:
        expected = merger().create_compiled_release([*compiling.releases, release])
        assert compiling.with_release(release) == expected
        compiling.take(release)
