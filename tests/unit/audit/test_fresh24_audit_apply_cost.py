"""The audit's history projection does per event only the work the event needs (fresh24).

Under 100 amendments a second its apply (~2-10 ms of CPU an event) fell seconds behind beside
the read models a consistency token waits for. Two costs of every event were not the event's:
its five statements built (and their cache keys walked) again for each event, and a state's
rendering asking each value's type what it is (dataclass? model? mapping?) for every value.
Counted here, not timed: the statements executed are the same objects from event to event,
and a type's form is asked once however many states are rendered.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, select

from audit import jsonstate
from audit.folding import reader_for, render
from audit.temporal import TemporalProjection
from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.records import StoredEvent
from eventstore.sql import make_engine


def _events(count: int) -> list[StoredEvent]:
    streams = stored_events(generate(seed=11, events=count))
    read = {c.stream for c in TemporalProjection.contexts}
    return [e for stream, found in streams.items() if stream in read for e in found]


def test_apply_executes_the_same_few_statements_for_every_event(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(600)
    engine = make_engine(database_url)
    projection = TemporalProjection()
    metadata = MetaData()
    projection.define(metadata)
    metadata.create_all(engine)
    executed: list[Any] = []
    execute = Connection.execute

    def counted(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(statement)
        return execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", counted)
    with engine.begin() as conn:
        for event in events:
            projection.apply(conn, event)
    monkeypatch.undo()
    assert len(executed) > 3 * len(events)  # each event inserted, read, versions written
    # Before: a new statement object for nearly every execution.
    assert len({id(statement) for statement in executed}) <= 6
    with engine.connect() as conn:
        written = conn.execute(select(projection.versions)).all()
    assert len(written) > len(events) / 4
    assert any(row.known_to is not None for row in written)  # closed versions written too
    engine.dispose()


def test_a_types_form_is_asked_once_however_many_states_are_rendered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_aggregate: dict[tuple[str, str], list[Any]] = {}
    for event in _events(400):
        e = event.envelope
        by_aggregate.setdefault((e.aggregate_type, e.aggregate_id), []).append(e)
    states = []
    for (kind, ident), envelopes in by_aggregate.items():
        reader = reader_for(kind, envelopes)
        state = reader.initial(ident)
        for envelope in envelopes:
            state = reader.step(state, envelope).state
            states.append(state)
    first = [render(state) for state in states]  # every type seen once
    asked: list[Any] = []
    is_dataclass = dataclasses.is_dataclass

    def counted(value: Any) -> bool:
        asked.append(value)
        return is_dataclass(value)

    monkeypatch.setattr(jsonstate.dataclasses, "is_dataclass", counted)
    again = [render(state) for state in states]
    assert again == first  # the same JSON ...
    assert any(isinstance(r, dict) and r for r in again)
    assert asked == []  # ... and no value's type asked again (before: every record's)
