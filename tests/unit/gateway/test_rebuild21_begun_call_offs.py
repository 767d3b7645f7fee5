"""A call-off's first event makes no timeline in the contracts and enrolment read models
(`eventstore.timeline.begin`); a second event, in the same batch or a later one, backdated
before the first, makes it then (`Timeline.resumed`). The versions stored are those of a
timeline that recorded every event (rebuild21).

A generated history (every call-off one `CallOffAwarded`) with a mini-competition added to
some call-offs, dated before the award: recorded after it, right away (same batch) or at the
end of the stream (a later batch), or recorded before it (the first event, in order). Both read models apply the streams in batches through
their own `apply_batch` into SQLite; each call-off's stored versions (every version, closed
or open) equal a plain `Timeline`'s, event by event, of the same events.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, select

from bench.direct import stored_events
from bench.history.generator import generate
from bench.history.model import Commit, History, SyntheticEvent
from eventstore.timeline import Begun, Changes, Timeline
from eventstore.versioned import Reading, VersionedProjection, recorded
from gateway.projections.contracts import ContractsProjection
from gateway.projections.enrolment import EnrolmentProjection
from tests.unit.eventstore.test_timeline import Versions

BATCH = 500


def _with_mini_competitions(history: History) -> tuple[History, int]:
    """Every seventh call-off gets a mini-competition dated ten days before its award, in
    turns: recorded just before the award (its first event, in order: begun with no rows),
    right after it at the award's instant (backdated, same batch), or at the end of the
    stream (backdated, a later batch)."""
    commits: list[Commit] = []
    late: list[Commit] = []
    calls = 0
    for commit in history.commits:
        if commit.aggregate_type != "call_off":
            commits.append(commit)
            continue
        calls += 1
        if calls % 7:
            commits.append(commit)
            continue
        award = commit.events[0].payload
        started = date.fromisoformat(award["awarded_on"]) - timedelta(days=10)
        mini = Commit(
            commit.context,
            commit.aggregate_type,
            commit.aggregate_id,
            (
                SyntheticEvent(
                    "MiniCompetitionStarted",
                    {
                        "call_off_id": award["call_off_id"],
                        "framework_contract_id": award["framework_contract_id"],
                        "tender_id": award["tender_id"],
                        "lot_id": award["lot_id"],
                        "participant_code": award["participant_code"],
                        "invited_supplier_ids": [award["supplier_id"]],
                        "started_on": started.isoformat(),
                    },
                    commit.events[0].occurred_at - timedelta(days=10),
                ),
            ),
            commit.recorded_at,
            commit.command_id + "-mini",
            commit.actor,
        )
        turn = (calls // 7) % 3
        if turn == 0:
            commits += [mini, commit]
        elif turn == 1:
            commits += [commit, mini]
        else:
            commits.append(commit)
            late.append(mini)
    last = commits[-1].recorded_at
    commits += [replace(c, recorded_at=max(last, c.recorded_at)) for c in late]
    return History(history.seed, tuple(commits)), calls // 7


def _expected(reading: Reading, events: list[Any]) -> Versions:
    """The versions of one call-off as a timeline that records every event gives them."""
    versions = Versions()
    aggregate_id = events[0].envelope.aggregate_id
    timeline: Timeline[Any, Any] = Timeline(
        reading.initial(aggregate_id), reading.evolve, reading.image
    )
    for event in events:
        changes = Changes()
        timeline.record(recorded(event), changes)
        versions.apply(changes)
    return versions


def _stored(conn: Any, table: Table, key: str) -> dict[str, list[tuple[Any, ...]]]:
    by_id: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(select(table)).mappings():
        by_id.setdefault(row[key], []).append(tuple(sorted(row.items())))
    return {k: sorted(v, key=_intervals) for k, v in by_id.items()}


def _intervals(row: tuple[Any, ...]) -> tuple[int, ...]:
    named = dict(row)
    return tuple(named[k] for k in ("valid_from", "known_from", "valid_to", "known_to"))


def _versions_as_rows(versions: Versions, table: str) -> list[tuple[Any, ...]]:
    rows = []
    for v in versions.rows:
        if v["key"][0] != table:  # type: ignore[index]
            continue
        intervals = {k: v[k] for k in ("valid_from", "valid_to", "known_from", "known_to")}
        rows.append(tuple(sorted({**v["row"], **intervals}.items())))  # type: ignore[dict-item]
    return sorted(rows, key=_intervals)


def test_begun_call_offs_store_the_versions_of_a_whole_timeline(tmp_path: Path) -> None:
    history, minis = _with_mini_competitions(generate(seed=11, events=6_000))
    assert minis >= 20
    streams = stored_events(history)
    engine = create_engine(f"sqlite:///{tmp_path / 'begun.db'}")
    projections: list[VersionedProjection] = [ContractsProjection(), EnrolmentProjection()]
    metadata = MetaData()
    begun = {}
    for projection in projections:
        projection.define(metadata)
    metadata.create_all(engine)
    for projection in projections:
        for context in projection.contexts:
            events = streams.get(context.stream, [])
            for first in range(0, len(events), BATCH):
                with engine.begin() as conn:
                    failures = projection.apply_batch(conn, events[first : first + BATCH])
                assert failures == []
        begun[projection.name] = sum(
            isinstance(kept, Begun)
            for kept in projection._timelines.values()  # what it keeps
        )
    # Most call-offs never get a second event: neither read model made a timeline for them.
    assert begun["contracts"] > 100
    assert begun["enrolment"] > 100

    call_offs: dict[str, list[Any]] = {}
    for event in streams["ENROLMENT"]:
        if event.envelope.aggregate_type == "call_off":
            call_offs.setdefault(event.envelope.aggregate_id, []).append(event)
    assert sum(len(events) == 2 for events in call_offs.values()) == minis

    contracts, enrolment = projections
    assert isinstance(contracts, ContractsProjection)
    assert isinstance(enrolment, EnrolmentProjection)
    with engine.connect() as conn:
        stored_contracts = _stored(conn, contracts.contracts, "contract_id")
        stored_suppliers = _stored(conn, contracts.suppliers, "contract_id")
        stored_call_offs = _stored(conn, enrolment.call_offs, "call_off_id")
    contract_reading = contracts.readings()["call_off"]
    call_off_reading = enrolment.readings()["call_off"]
    for call_off_id, events in call_offs.items():
        in_contracts = _expected(contract_reading, events)
        assert stored_contracts[call_off_id] == _versions_as_rows(in_contracts, "contracts")
        assert stored_suppliers[call_off_id] == _versions_as_rows(in_contracts, "suppliers")
        in_enrolment = _expected(call_off_reading, events)
        assert stored_call_offs[call_off_id] == _versions_as_rows(in_enrolment, "call_offs")
    # Every call-off is a contract, a supplier and a call-off row from its award on (a
    # competition begun alone has none: its award, in order, made the first).
    assert all(stored_call_offs[cid] for cid in call_offs)
