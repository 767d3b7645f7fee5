"""guard22: how a stream's state is read as lost messages (`eventstore.losses.lost_of`), the
conflict that says an appended-on head is gone (`store._behind`), and a history whose first
version was lost (`trust.refuse_untrusted`). The integration tests
(tests/integration/audit/test_guard22_*.py) show the refusals through the services."""

from __future__ import annotations

import pytest

from contracts_schema.subjects import REGISTRY
from eventstore.losses import lost_of
from eventstore.records import StoredEvent
from eventstore.store import _behind
from eventstore.trust import UntrustedHistory, refuse_untrusted
from tests.unit.eventstore.test_trust_chains import chain

OWN = "registry.events.programme.P1.ProgrammeRenamed"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"messages": 0, "first_seq": 0, "last_seq": 0}, (0, 0)),  # never written
        ({"messages": 6, "first_seq": 1, "last_seq": 6}, (0, 0)),  # whole
        # the last message deleted: the stream keeps its last sequence
        ({"messages": 5, "first_seq": 1, "last_seq": 6, "num_deleted": 1, "deleted": [6]}, (1, 6)),
        # asked without the deleted list: the highest is not known yet
        ({"messages": 5, "first_seq": 1, "last_seq": 6, "num_deleted": 1}, (1, None)),
        # the first deleted: the first sequence moves, no deleted entry
        ({"messages": 5, "first_seq": 2, "last_seq": 6}, (1, 1)),
        (
            {"messages": 3, "first_seq": 2, "last_seq": 6, "num_deleted": 2, "deleted": [3, 6]},
            (3, 6),
        ),
        ({"messages": 0, "first_seq": 8, "last_seq": 7}, (7, 7)),  # purged
        # found corrupt on disk past what the server recovered
        (
            {"messages": 4, "first_seq": 1, "last_seq": 4, "lost": {"msgs": [5, 6], "bytes": 9}},
            (2, 6),
        ),
    ],
    ids=["empty", "whole", "last", "no-details", "first", "several", "purged", "disk"],
)
def test_a_stream_state_says_what_it_lost(
    state: dict[str, object], expected: tuple[int, int | None]
) -> None:
    assert lost_of(state) == expected


def test_a_conflict_behind_the_head_is_told_from_one_ahead() -> None:
    assert _behind("wrong last sequence: 5", 6)  # the stream holds less than our head
    assert not _behind("wrong last sequence: 7", 6)  # another writer went ahead
    assert not _behind("wrong last sequence", 6)
    assert not _behind("", 6)


def test_a_history_whose_first_version_was_lost_is_refused() -> None:
    events = chain("P1", 3)
    stored = [StoredEvent(e, REGISTRY.stream, i, OWN) for i, e in enumerate(events, start=1)]
    refuse_untrusted(stored)  # whole
    with pytest.raises(UntrustedHistory, match="its history begins at version 2, not 1"):
        refuse_untrusted(stored[1:])  # before: taken, decided on as a whole history
    refuse_untrusted(stored[1:], 1)  # (events after a known head: as before)
