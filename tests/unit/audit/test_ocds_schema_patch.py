"""The extensions' merge patches applied on one copy of the schema (not a copy at every level
of every patch): the same result as RFC 7386 applied patch by patch, arguments unchanged."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.extensions import EXTENSIONS, PATCHES, merge_patch, patched
from audit.ocds.schemas import schema


def _reference(target: Any, patch: Any) -> Any:
    """RFC 7386 as written (section 2), copying everything."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _reference(merged.get(key), value)
    return merged


def test_the_patched_release_schema_is_each_patch_applied_in_turn() -> None:
    release = schema("release-schema.json")
    before = json.dumps(release, sort_keys=True)
    expected = release
    for extension in EXTENSIONS:
        expected = _reference(expected, PATCHES[extension])
    assert patched(release) == expected
    assert json.dumps(release, sort_keys=True) == before  # the shipped schema is unchanged
    assert patched(release) is not patched(release)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json, _json)
def test_merge_patch_is_rfc_7386_and_changes_neither_argument(target: Any, patch: Any) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    merged = merge_patch(target, patch)
    assert merged == _reference(target, patch)
    assert target == target_before
    assert patch == patch_before
    _scribble(merged)  # nothing of the result is shared with the arguments
    assert target == target_before
    assert patch == patch_before


def _scribble(value: Any) -> None:
    """Change every container in `value`, at every depth."""
    if isinstance(value, dict):
        for inner in value.values():
            _scribble(inner)
        value["scribbled"] = True
    elif isinstance(value, list):
        for inner in value:
            _scribble(inner)
        value.append("scribbled")
