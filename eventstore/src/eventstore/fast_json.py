"""A JSON form's text, encoded in C where that gives the same JSON.

`json.dumps` walks a value in Python; orjson does it in C in a tenth of the time. Where only
a reader parses the text (a processed-command record, an import group's reply, a look at a
document's keys), the two are interchangeable; orjson refuses a few values `json` writes (an
integer beyond 64 bits, a lone surrogate, a key not a string), and those go through `json`.
Not the same JSON for values outside the JSON form (review18 #4): a non-finite float is
`null` here where `json` wrote `NaN`/`Infinity`, and orjson writes datetimes, UUIDs, enums and
dataclasses where `json` raised `TypeError`; the callers pass JSON forms (pydantic's, or
parsed JSON), which have neither.
Not for text that is hashed or stored byte for byte: `hashing.canonical_json_form` is that.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    """`value` (dicts with string keys, lists, strings, integers, booleans, None; finite
    floats) as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # (ASCII: a lone surrogate is written as its escape, not refused by the UTF-8 codec)
        return json.dumps(value, separators=(",", ":")).encode()
