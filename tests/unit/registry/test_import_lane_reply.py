"""The lane's answer for a recorded command (`import_lane.placed_reply`) is the JSON form the
general path's reply takes once placed (`accepted_reply` of the events, then
`import_service._placed`): the same keys in the same order, the same values, the same
consistency token; on generated events, one stream or several, provisional or stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from contracts_schema.envelope import EventEnvelope
from eventstore.aggregate_cache import appended
from eventstore.commands import accepted_reply
from eventstore.group_append import PROVISIONAL
from eventstore.records import StoredEvent
from registry.import_lane import placed_reply
from registry.import_service import _placed

AT = datetime(2020, 1, 6, 9, tzinfo=UTC)
IDS = st.text("abcdefghij-_0123456789", min_size=1, max_size=12)


def _event(n: int, stream: str, seq: int, aggregate: str) -> StoredEvent:
    envelope = EventEnvelope(
        event_id=f"e-{n}", event_type="TenderPlanned", schema_version=1, context="registry",
        aggregate_type="tender", aggregate_id=aggregate, aggregate_version=n + 1,
        occurred_at=AT, recorded_at=AT, actor="import:x", command_id="c",
        correlation_id="c", causation_id=None, prev_hash=None, hash="h", payload={},
    )  # fmt: skip
    return StoredEvent(envelope, stream, seq, f"registry.events.tender.{aggregate}.TenderPlanned")


@given(
    command_id=IDS,
    aggregate=IDS,
    placed=st.lists(
        st.tuples(st.sampled_from(["REGISTRY", "OTHER"]), st.integers(0, 1000), st.booleans()),
        min_size=1,
        max_size=5,
    ),
    first=st.integers(1, 10**9),
)
def test_placed_reply_is_the_general_paths_reply_placed(
    command_id: str, aggregate: str, placed: list[tuple[str, int, bool]], first: int
) -> None:
    events = [
        _event(n, stream, PROVISIONAL + k if staged else k + 1, aggregate)
        for n, (stream, k, staged) in enumerate(placed)
    ]

    def real(seq: int) -> int:
        return first + seq - PROVISIONAL if seq >= PROVISIONAL else seq

    general = _placed(accepted_reply(command_id, map(appended, events), False), real)
    ours = placed_reply(command_id, events, real)
    assert ours == general
    assert json.dumps(ours) == json.dumps(general)  # the same keys in the same order
