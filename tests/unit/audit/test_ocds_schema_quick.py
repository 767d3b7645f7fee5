"""The quick release-schema check gives `jsonschema`'s verdicts and messages: `errors` (the
compiled validator first, `jsonschema` for what it refuses) equals `full_errors` (always
`jsonschema`) on the shipped real releases, the bench's generated ones, and those releases
with values replaced anywhere by arbitrary JSON (property-based), plus the known edges."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.schemas import errors, full_errors
from bench.suites.ocds_import import package

DATA = Path(__file__).parents[2] / "service" / "data" / "ocds"
NAME = "release-schema.json"


def _releases() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(DATA.glob("*.json")):
        body = json.loads(path.read_text())
        found += body.get("releases", [])
        for record in body.get("records", []):
            found += [r for r in record.get("releases", []) if "ocid" in r and "tag" in r]
            if "compiledRelease" in record:
                found.append(record["compiledRelease"])
    found += json.loads(package(3))["releases"]
    return found


RELEASES = _releases()


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value sits (object members, array items)."""
    places = [at] if at else []
    if isinstance(node, dict):
        for key, value in node.items():
            places += _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            places += _paths(value, (*at, i))
    return places


def _replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return changed


def test_the_real_and_generated_releases_agree() -> None:
    assert len(RELEASES) > 10
    for release in RELEASES:
        assert errors(release, NAME) == full_errors(release, NAME)


EDGES: list[tuple[tuple[Any, ...], Any]] = [
    (("tender", "numberOfTenderers"), 1.0),  # an integer in draft 4 is not a float
    (("tender", "numberOfTenderers"), True),
    (("tender", "value"), {"amount": "1", "currency": "EUR"}),
    (("tender", "status"), "no such status"),
    (("date",), "yesterday"),
    (("tag",), []),
    (("tag",), ["tender", "tender"]),  # uniqueItems
    (("tender", "title_en"), 5),  # a language-tagged property
    (("tender", "title_en\n"), 5),  # where `re`'s `$` and the compiled validator's differ
    (("parties",), [{"id": "x"}, {"id": "x"}]),
    (("ocid",), None),
    (("awards",), [{"id": 1}]),
    (("tender", "items"), [{"id": "1", "quantity": "3"}]),
]


@pytest.mark.parametrize(("path", "value"), EDGES)
def test_known_edges_agree(path: tuple[Any, ...], value: Any) -> None:
    for release in RELEASES[:3]:
        changed = _replaced(release, path, value)
        assert errors(changed, NAME) == full_errors(changed, NAME)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["2020-01-01T00:00:00Z", "tender", "active", "EUR", "1", ""]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "amount", "status", "title", "x"]), inner,
                      max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_value_anywhere_gives_the_same_verdict(data: st.DataObject) -> None:
    release = data.draw(st.sampled_from(RELEASES))
    path = data.draw(st.sampled_from(_paths(release)))
    changed = _replaced(release, path, data.draw(JSON))
    assert errors(changed, NAME) == full_errors(changed, NAME)


# The package schemas, checked quickly too (import16): they refer to the release schema (the
# record package also to the versioned one) by URL, given to the compiled validator from the
# shipped files. The same agreement, on the shipped packages and the bench's.
def _packages() -> list[tuple[dict[str, Any], str]]:
    found = []
    for path in sorted(DATA.glob("*.json")):
        body = json.loads(path.read_text())
        kind = "record" if "records" in body else "release"
        found.append((body, f"{kind}-package-schema.json"))
    found.append((json.loads(package(3)), "release-package-schema.json"))
    return found


PACKAGES = _packages()


def test_the_real_and_generated_packages_agree() -> None:
    assert {name for _p, name in PACKAGES} == {
        "release-package-schema.json",
        "record-package-schema.json",
    }
    for body, name in PACKAGES:
        assert errors(body, name) == full_errors(body, name)


def test_a_package_schema_is_checked_quickly_without_going_online() -> None:
    from audit.ocds.schemas import _quick

    for body, name in PACKAGES:  # compiled from the shipped files: no fetch, no failure
        assert _quick(name).is_valid(body), name  # the fast path itself accepts them


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_value_anywhere_in_a_package_gives_the_same_verdict(data: st.DataObject) -> None:
    body, name = data.draw(st.sampled_from(PACKAGES))
    path = data.draw(st.sampled_from(_paths(body)))
    changed = _replaced(body, path, data.draw(JSON))
    assert errors(changed, name) == full_errors(changed, name)
