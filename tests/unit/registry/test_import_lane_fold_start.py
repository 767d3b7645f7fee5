"""The import lane folds a fresh aggregate's facts from `initial(<its id>)` (what
`record_imported_*` start from); the general command path folds a fresh aggregate from the
decider's `initial("")` (review8 item 4). The two states are the same because of how the
folds begin: a tender's or contract's first event either creates it (its state built from
the event alone) or cannot be folded at all. Checked on every event of the frozen corpus
(every event type in every version) about a registry tender or contract: folded onto either
starting state, it gives the same state or fails alike."""

from __future__ import annotations

from typing import Any

import pytest

from contracts_schema.errors import FoldError
from contracts_schema.folds import FOLDS
from contracts_schema.upcasting import decode_envelope
from tests.corpus import corpus


def _fold(fold: Any, start: Any, event: Any) -> Any:
    try:
        return fold.evolve(start, event)
    except FoldError:
        return FoldError


@pytest.mark.parametrize("aggregate_type", ["tender", "contract"])
def test_a_fresh_aggregate_folds_alike_from_either_start(aggregate_type: str) -> None:
    fold = FOLDS["registry", aggregate_type]
    seen = 0
    for name in corpus.recordings():
        for stored in corpus.stored_events(name):
            e = stored.envelope
            if (e.context, e.aggregate_type) != ("registry", aggregate_type):
                continue
            event = decode_envelope(e)
            by_id = _fold(fold, fold.initial(e.aggregate_id), event)
            general = _fold(fold, fold.initial(""), event)
            assert by_id == general, (e.event_type, e.aggregate_id)
            seen += 1
    assert seen
