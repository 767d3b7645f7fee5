"""attack10: every reader refuses a signed event stored off its own subject (`misplaced`):
a live delivery (`read_event`), a catch-up range (`read_range`, where a later event of the
same chain would otherwise vouch for it) and the command side's load (`refuse_untrusted`).
The integration test (`tests/integration/audit/test_attack10_misplaced_events.py`) shows
what the copy did before through the running system."""

from __future__ import annotations

import pytest

from contracts_schema.subjects import REGISTRY
from eventstore.records import StoredEvent
from eventstore.trust import UntrustedHistory, read_event, read_range, refuse_untrusted
from tests.unit.eventstore.test_trust_chains import _bytes, chain, delivered, trust

MISPLACED = "misplaced"  # the reason readers give (eventstore.trust.MISPLACED)
OWN = "registry.events.programme.P1.ProgrammeRenamed"
ELSEWHERE = "registry.events.programme.P2.ProgrammeRenamed"


def test_a_live_delivery_off_its_subject_is_refused() -> None:
    [event] = chain("P1", 1)
    judge = trust()
    assert read_event(judge, OWN, REGISTRY.stream, 1, _bytes(event)).refused is None
    refused = read_event(judge, ELSEWHERE, REGISTRY.stream, 2, _bytes(event)).refused
    assert refused is not None
    assert refused.startswith(MISPLACED), refused
    assert OWN in refused
    assert ELSEWHERE in refused


def test_a_catch_up_range_refuses_a_copy_even_when_a_later_event_vouches_for_it() -> None:
    events = chain("P1", 2)
    moved = delivered(events)
    first_subject, seq, data, parent = moved[0]
    moved[0] = (ELSEWHERE, seq, data, parent)  # its successor names its hash: vouched for
    judged = read_range(trust(), REGISTRY.stream, moved)
    assert judged[0].refused is not None
    assert judged[0].refused.startswith(MISPLACED)
    assert judged[1].refused is None
    assert first_subject == OWN


def test_the_command_side_refuses_a_history_holding_a_copy() -> None:
    [event] = chain("P1", 1)
    copy = StoredEvent(event, REGISTRY.stream, 2, ELSEWHERE)
    with pytest.raises(UntrustedHistory, match=MISPLACED):
        refuse_untrusted([copy])
    refuse_untrusted([StoredEvent(event, REGISTRY.stream, 1, OWN)])  # in place: taken
