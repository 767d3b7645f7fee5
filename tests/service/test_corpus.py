"""The frozen corpus loads, projects and exports identically (drift = failure).

Every recording in tests/corpus/histories is read through the current code: each stored
event decodes (upcast to its current version), each aggregate's hash chain still holds over
the stored bytes, the gateway's read models (SQLite) and the OCDS export equal the committed
expected outputs. `make corpus` rewrites those after a deliberate change; see
tests/corpus/corpus.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from contracts_schema.catalogue import EVENT_MODELS
from contracts_schema.upcasting import decode_envelope
from eventstore.hashing import verify_chain
from tests.corpus import corpus

RECORDINGS = corpus.recordings()


def test_the_corpus_holds_every_event_type_in_every_version() -> None:
    stored = Counter(
        (e.envelope.event_type, e.envelope.schema_version)
        for name in RECORDINGS
        for e in corpus.stored_events(name)
    )
    # MunicipalityMerged: no command of a history reaches it (a later municipality list does).
    absent = {"MunicipalityMerged"}
    wanted = {
        (m.event_type, version)
        for m in EVENT_MODELS
        if m.event_type not in absent
        for version in range(1, m.schema_version + 1)
    }
    assert sorted(wanted - set(stored)) == []


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_stored_event_decodes_and_every_chain_holds(name: str) -> None:
    by_aggregate: dict[tuple[str, str], list[dict[str, object]]] = {}
    for event in corpus.stored_events(name):
        decode_envelope(event.envelope)  # raises if the current code cannot read it
        e = event.envelope
        by_aggregate.setdefault((e.aggregate_type, e.aggregate_id), []).append(
            json.loads(e.model_dump_json())
        )
    problems = [
        p
        for (kind, key), chain in by_aggregate.items()
        for p in verify_chain(f"{kind}/{key}", chain)
    ]
    assert problems == []


@pytest.mark.parametrize("name", RECORDINGS)
async def test_the_corpus_projects_and_exports_as_committed(name: str, tmp_path: Path) -> None:
    actual = json.loads(corpus.dump(await corpus.outputs(name, tmp_path / "views.db")))
    expected = json.loads((corpus.EXPECTED / f"{name}.json").read_text())
    for part in ("read_models", "ocds"):
        for key in sorted(set(actual[part]) | set(expected[part])):
            assert actual[part].get(key) == expected[part].get(key), (
                f"{name}: {part} {key} drifted from tests/corpus/expected/{name}.json;"
                " if the change is deliberate, run `make corpus` and review the diff"
            )
