"""The event log's one-pass code finder agrees with the walk of every payload value."""

from __future__ import annotations

from bench.direct import stored_events
from bench.history.generator import generate
from gateway.projections.common import organisation_codes, organisation_codes_in

TRICKY = [
    {"a": "GM0363"},
    {"GM0363": "x", "b": ["KVK-12345678", {"c": "OIN-00000000000000000001"}]},
    {"a": 'x"GM0363', "b": 'GM0599"', "c": "GM0363 ", "d": " GM0363", "e": "GM03633"},
    {"a": "GM0363\n", "b": "GM0363\\", "c": "\\GM0363", "d": ["GM0001", "GM0002"]},
    {"a": {"GM0003": "GM0004"}, "b": [[["KVK-00000001"]]], "c": "KVK-0000001", "d": 1},
    {"a": 'tail \\"', "b": "GM0005", "c": "é GM0006", "d": "GM0007é", "e": ["é", "GM0008"]},
]


def test_codes_found_in_json_text_are_the_codes_of_the_walk() -> None:
    for payload in TRICKY:
        assert organisation_codes_in(payload) == set(organisation_codes(payload)), payload
    found = 0
    for events in stored_events(generate(seed=5, events=4_000)).values():
        for event in events:
            payload = event.envelope.payload
            codes = organisation_codes_in(payload)
            assert codes == set(organisation_codes(payload)), payload
            found += len(codes)
    assert found > 1_000
