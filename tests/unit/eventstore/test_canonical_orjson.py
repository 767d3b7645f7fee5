"""`hashing.canonical_json_form` (orjson, for JSON forms) gives exactly `canonical_json`'s
bytes (the `json` module's): on generated JSON values (any string, escapes and non-ASCII,
nested unsorted keys, integers beyond 64 bits, any finite float), on every float form at
every power of ten and its neighbours, on every code point, and on every stored event of the
frozen corpus, whose hashes it reproduces. So no stored hash, signature or fingerprint
changes: a hash taken with it is the hash `verify_chain` (the `json` module) checks."""

from __future__ import annotations

import json
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore.hashing import (
    canonical_json,
    canonical_json_form,
    envelope_hash,
    json_form_hash,
)
from tests.corpus import corpus

FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.integers(min_value=-(2**63) - 2, max_value=2**64 + 2)
    | FLOATS
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


# 300 generated values, 300 lists of floats: every code point, every float form either side
# of each power of ten and 1,000 random bit patterns are checked below, and the corpus's real
# events; what these two add is the mixture (nesting, unsorted keys, big integers, escapes
# and floats together), not coverage of a character or float class. 1,500 each took 150 s
# and 37 s of a suite beside busy neighbours (load 19), the largest share of its unit tests.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_generated_json_values_are_encoded_to_the_same_bytes(value: object) -> None:
    assert canonical_json_form(value) == canonical_json(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, min_size=1, max_size=8))
def test_any_finite_float_is_written_as_json_writes_it(values: list[float]) -> None:
    assert canonical_json_form(values) == canonical_json(values)


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_any_bit_pattern_of_a_float_is_written_as_json_writes_it(bits: int) -> None:
    value = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if math.isfinite(value):
        assert canonical_json_form({"v": value}) == canonical_json({"v": value})


def test_every_power_of_ten_and_its_neighbours() -> None:
    """The float forms change at powers of ten (json: exponent below 1e-4 and from 1e16 on,
    two-digit exponents): each of them, either side, signed, with a few mantissas."""
    values = []
    for exponent in range(-325, 309):
        for mantissa in ("1", "1.5", "2.2250738585072014", "4.9", "9.999999999999998"):
            x = float(f"{mantissa}e{exponent}")
            if math.isfinite(x) and x:
                for y in (x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)):
                    values += [y, -y]
    values += [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 100.0, 1e-4, 1e-5]
    for value in values:
        for form in (value, [value], {"k": [1, value]}, [value, 2], {"a": value, "b": "x"}):
            assert canonical_json_form(form) == canonical_json(form), form


def test_every_code_point_and_key_order() -> None:
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(points), 4096):
        text = "".join(points[start : start + 4096])
        assert canonical_json_form([text]) == canonical_json([text])
        keys = {c: i for i, c in enumerate(reversed(points[start : start + 4096]))}
        assert canonical_json_form(keys) == canonical_json(keys)


def test_what_json_refuses_is_refused_alike() -> None:
    for bad in ("\ud800", {"k\udfff": 1}):
        with pytest.raises(UnicodeEncodeError):
            canonical_json(bad)
        with pytest.raises(UnicodeEncodeError):
            canonical_json_form(bad)


@pytest.mark.parametrize("name", corpus.recordings())
def test_every_stored_event_of_the_corpus_hashes_as_stored(name: str) -> None:
    for event in corpus.stored_events(name):
        form = event.envelope.model_dump(mode="json")
        assert canonical_json_form(form) == canonical_json(form)
        stored = json.loads(event.envelope.model_dump_json())
        assert json_form_hash(form) == envelope_hash(stored) == event.envelope.hash
