"""Canonical encoding and the per-aggregate SHA-256 hash chain.

hash = sha256(canonical JSON of every envelope field except `hash` and `signature`), and each
envelope's `prev_hash` is its predecessor's `hash`, so an altered, removed or reordered event breaks
the chain at a point we can name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot canonically encode {type(value).__name__}")


# `json.dumps` with these arguments, built once: `dumps` builds an encoder per call, which
# cost as much as the encoding itself (every event's hash, every command's fingerprint).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per logical value."""
    return _CANONICAL.encode(value).encode("utf-8")


# Where orjson's text of a JSON form differs from `json`'s, its output shows one of these:
# a float below 1e-4 written as 0.0000... or with a one-digit negative exponent (`json`
# writes 1e-05, orjson 0.00001; `json` 1e-07, orjson 1e-7; a number ends before `,`, `]`,
# `}` or the end). The same text inside a string only sends it the slow way. Digits, every
# other float form, strings and their escapes, key order: the same
# (tests/unit/eventstore/test_canonical_orjson.py). Two searches, each led by a literal:
# one pattern with a character class first cost more than orjson's encoding itself.
_SHORT_EXPONENT = re.compile(rb"e-[0-9](?:[,\]}]|$)")
_SMALL_DECIMAL = re.compile(rb"0\.0000")
_SORTED = orjson.OPT_SORT_KEYS


def canonical_json_form(value: Any) -> bytes:
    """`canonical_json` of a JSON form (what pydantic's JSON-mode dump gives: dicts with
    string keys, lists, strings, integers, finite floats, booleans, None): the same bytes,
    encoded in C by orjson (a quarter of the time). A value orjson refuses (an integer
    beyond 64 bits, a lone surrogate, a key not a string) or whose text shows a float
    form orjson writes otherwise goes through `canonical_json`. Not for other values:
    orjson writes NaN as null and encodes types `json` refuses (UUID, Enum)."""
    try:
        encoded = orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return canonical_json(value)
    if _SHORT_EXPONENT.search(encoded) or _SMALL_DECIMAL.search(encoded):
        return canonical_json(value)
    return encoded


_UNHASHED = frozenset(("hash", "signature"))


def envelope_hash(envelope_fields: dict[str, Any]) -> str:
    # The signature signs the hash; an unsigned (legacy) event hashes as it did before.
    body = {
        k: v
        for k, v in envelope_fields.items()
        if k not in _UNHASHED and not (v is None and k == "signer")
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def json_form_hash(envelope_fields: dict[str, Any]) -> str:
    """`envelope_hash` of an envelope's JSON form (`canonical_json_form`: the same hash)."""
    body = {
        k: v
        for k, v in envelope_fields.items()
        if k not in _UNHASHED and not (v is None and k == "signer")
    }
    return hashlib.sha256(canonical_json_form(body)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    aggregate: str
    position: int  # index in the sequence as read (0-based)
    event_id: str
    kind: str  # altered | gap | reordered | broken-link | wrong-start
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.aggregate} event #{self.position} ({self.event_id}): {self.kind}: {self.detail}"
        )


def verify_chain(aggregate: str, envelopes: Iterable[dict[str, Any]]) -> list[ChainProblem]:
    """Check hashes, prev-hash links and the gap-free version sequence of one aggregate."""
    problems: list[ChainProblem] = []
    prev_hash: str | None = None
    expected_version = 1
    for position, env in enumerate(envelopes):
        event_id = str(env.get("event_id", "?"))

        def report(kind: str, detail: str, _pos: int = position, _id: str = event_id) -> None:
            problems.append(ChainProblem(aggregate, _pos, _id, kind, detail))

        if envelope_hash(env) != env.get("hash"):
            report("altered", "stored hash does not match the event's content")
        version = env.get("aggregate_version")
        if version != expected_version:
            kind = "gap" if isinstance(version, int) and version > expected_version else "reordered"
            report(kind, f"expected version {expected_version}, found {version}")
        if env.get("prev_hash") != prev_hash:
            report("broken-link", f"prev_hash {env.get('prev_hash')} does not match {prev_hash}")
        prev_hash = env.get("hash")
        expected_version = (version if isinstance(version, int) else expected_version) + 1
    return problems
