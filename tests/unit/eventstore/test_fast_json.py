"""`fast_json.json_bytes` gives the JSON `json.dumps` gives, read back, for every value a
record or reply may hold, including those orjson refuses (they go through `json`); and the
importer's key check (`schemas._plain_keys`, written with it) still sees a key ending in a
newline in a document orjson refuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit.ocds.schemas import _plain_keys
from eventstore.fast_json import json_bytes

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_the_same_json_as_the_json_module(value: Any) -> None:
    assert json.loads(json_bytes(value)) == json.loads(json.dumps(value))


def test_values_orjson_refuses_are_written_by_json() -> None:
    for value in ({"big": 10**30}, {"lone": "\ud800"}, [2**64]):
        assert json_bytes(value) == json.dumps(value, separators=(",", ":")).encode()


@given(JSON)
def test_a_key_ending_in_a_newline_is_seen(value: Any) -> None:
    for document in ({"a\n": value}, {"x": [{"b": value, "c\n": 1}]}, {"n": 10**30, "d\n": 1}):
        assert not _plain_keys(document)
    assert _plain_keys({"x": value}) == ('\\n":' not in json.dumps({"x": value}))
