"""Row versions with validity intervals, kept correct by backdated events; verify and rebuild.

Runs on SQLite and PostgreSQL through the real projection runner fed by JetStream.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Engine, update

from audit.bitemporal import Horizon, end_of_day
from audit.bluegreen import blue_green_rebuild
from audit.checks import verify_projection
from audit.history import replay
from audit.rebuild import Cancelled, rebuild
from audit.temporal import TemporalProjection, list_as_of
from bootstrap.parts import projection_runner
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import EventStore
from tests.support.audit_facts import LNVT_TENDER, RECORDED, TENDER, Fact, on, record, spaced

SIGNED = Fact(
    "ContractSigned",
    {
        "contract_id": "C1",
        "kind": "contract",
        "contracting_authority": "GM0518",
        "suppliers": [{"supplier_id": "KVK-27124701", "name": "KPN B.V."}],
        "lot_ids": [],
        "signed_on": "2015-01-01",
        "start_date": "2015-01-01",
        "end_date": "2017-12-31",
    },
    on(date(2015, 1, 1)),
)
EXTENDED = Fact(
    "ContractExtended",
    {"contract_id": "C1", "new_end_date": "2019-12-31", "previous_end_date": "2017-12-31",
     "extended_on": "2017-06-01"},
    on(date(2017, 6, 1)),
)  # fmt: skip
CORRECTED = Fact(
    "ContractExtended",
    {"contract_id": "C1", "new_end_date": "2020-06-30", "previous_end_date": "2019-12-31",
     "extended_on": "2017-06-01"},
    on(date(2017, 6, 1)),
)  # fmt: skip
BACKDATED = Fact(
    "ContractTransferred",
    {
        "contract_id": "C1",
        "from_authority": "GM0518",
        "to_authority": "KVK-70000001",
        "transferred_on": "2016-03-01",
    },
    on(date(2016, 3, 1)),
)
K1, K2, K3, K4 = (datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3, 4))
DATES = [
    date(2014, 1, 1),
    date(2016, 2, 1),
    date(2016, 6, 1),
    date(2018, 1, 1),
    date(2020, 11, 20),
    date(2021, 1, 1),
]
MOMENTS = [K1, K2, K3, K4, RECORDED, datetime(2026, 2, 1, tzinfo=UTC)]


async def load_history(store: EventStore, clock: FixedClock) -> int:
    await store.ensure_stream(ENROLMENT)
    await record(store, clock, "contract/C1", [(SIGNED, K1), (EXTENDED, K2)])
    await record(store, clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
    # The correction and the backdated transfer arrive after later facts were recorded.
    stored = await record(store, clock, "contract/C1", [(CORRECTED, K3), (BACKDATED, K4)])
    return stored[-1].seq


async def project(nc: NATS, engine: Engine, last: int) -> None:
    runner = ProjectionRunner(nc, engine, TemporalProjection(), batch=3)
    await runner.start()
    assert await runner.wait_until({"REGISTRY": last}, timeout=120)
    await runner.stop()


def answers(engine: Engine) -> str:
    """Every list answer over a grid of (D, K), as the bytes a client would get."""
    projection = TemporalProjection.for_queries()
    out = {}
    with engine.connect() as conn:
        for kind in ("contract", "tender"):
            for d in DATES:
                for k in MOMENTS:
                    rows = list_as_of(conn, projection, kind, Horizon(end_of_day(d), k))
                    out[f"{kind} {d} {k.isoformat()}"] = [(r.aggregate_id, r.state) for r in rows]
    return json.dumps(out, sort_keys=True)


@pytest.fixture
async def live(
    nats_client: NATS, fixed_clock: FixedClock, database_url: str
) -> tuple[EventStore, Engine]:
    store = EventStore(nats_client, fixed_clock)
    last = await load_history(store, fixed_clock)
    engine = make_engine(database_url)
    await project(nats_client, engine, last)
    return store, engine


def contract_at(engine: Engine, d: date, k: datetime) -> dict | None:
    projection = TemporalProjection.for_queries()
    with engine.connect() as conn:
        rows = list_as_of(conn, projection, "contract", Horizon(end_of_day(d), k))
    return rows[0].state if rows else None


async def test_list_answers_follow_corrections_for_d_but_never_change_for_an_earlier_k(
    live,
) -> None:
    _, engine = live
    assert contract_at(engine, date(2018, 1, 1), K2)["end_date"] == "2019-12-31"
    assert contract_at(engine, date(2018, 1, 1), K3)["end_date"] == "2020-06-30"
    assert contract_at(engine, date(2016, 6, 1), K3)["contracting_authority"] == "GM0518"
    assert contract_at(engine, date(2016, 6, 1), K4)["contracting_authority"] == "KVK-70000001"
    assert contract_at(engine, date(2014, 1, 1), K4) is None, "not signed yet on D"
    assert contract_at(engine, date(2018, 1, 1), K1 - (K2 - K1)) is None, "not recorded yet at K"


async def test_row_versions_agree_with_folding_the_events_at_every_horizon(live) -> None:
    store, engine = live
    history = {
        kind: [e.envelope for e in (await store.load(REGISTRY, kind, ident)).events]
        for kind, ident in (("contract", "C1"), ("tender", TENDER))
    }
    listed = json.loads(answers(engine))
    for kind, ident in (("contract", "C1"), ("tender", TENDER)):
        for d in DATES:
            for k in MOMENTS:
                folded = replay(kind, ident, history[kind], Horizon(end_of_day(d), k)).state
                expected = [[ident, folded]] if folded["exists"] else []
                assert listed[f"{kind} {d} {k.isoformat()}"] == expected, (kind, d, k)


async def test_lnvt_list_as_of_november_2020_shows_kpn_in_standstill(live) -> None:
    _, engine = live
    listed = json.loads(answers(engine))
    [[_, tender]] = listed[f"tender 2020-11-20 {MOMENTS[-1].isoformat()}"]
    [lot] = tender["lots"]
    assert (lot["status"], lot["standstill_ends_on"]) == ("provisionally_awarded", "2020-12-03")
    assert listed[f"tender 2020-11-20 {K4.isoformat()}"] == [], "before it was recorded: nothing"


async def test_a_full_rebuild_gives_byte_identical_answers(live, tmp_path: Path) -> None:
    store, engine = live
    scratch = make_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    await rebuild(store, scratch, TemporalProjection(), runners=projection_runner)
    assert answers(scratch) == answers(engine)


async def test_verify_passes_then_names_a_row_changed_behind_the_runners_back(
    live, tmp_path: Path
) -> None:
    store, engine = live
    clean = await verify_projection(
        store, engine, TemporalProjection(), tmp_path, runners=projection_runner
    )
    assert clean.problems == []
    assert clean.rows > 0
    projection = TemporalProjection.for_queries()
    with engine.begin() as conn:
        conn.execute(
            update(projection.versions)
            .where(
                projection.versions.c.aggregate_id == "C1", projection.versions.c.known_to.is_(None)
            )
            .values(state='{"end_date": "2099-12-31"}')
        )
    found = [
        str(p)
        for p in (
            await verify_projection(
                store, engine, TemporalProjection(), tmp_path, runners=projection_runner
            )
        ).problems
    ]
    assert found
    assert all(
        "audit_history_v2_versions" in p and "'C1'" in p and "2099-12-31" in p for p in found
    ), found


async def test_blue_green_rebuild_repairs_drift_and_a_cancelled_one_touches_nothing(
    live, tmp_path: Path
) -> None:
    store, engine = live
    before = answers(engine)
    projection = TemporalProjection.for_queries()
    with engine.begin() as conn:
        conn.execute(projection.versions.delete().where(projection.versions.c.aggregate_id == "C1"))
    drifted = answers(engine)
    assert drifted != before

    cancel = asyncio.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        await blue_green_rebuild(
            store, engine, TemporalProjection, runners=projection_runner, cancel=cancel
        )
    assert answers(engine) == drifted

    await blue_green_rebuild(store, engine, TemporalProjection, runners=projection_runner)
    assert answers(engine) == before
    assert (
        await verify_projection(
            store, engine, TemporalProjection(), tmp_path, runners=projection_runner
        )
    ).problems == []
