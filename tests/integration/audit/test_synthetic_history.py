"""The audit tools over a realistic history (the benchmark's generator, pinned vocabulary):
verify passes, every tender exports valid OCDS that keeps its lots, rebuild is byte-identical.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client as NATS

from audit.bitemporal import Horizon
from audit.checks import verify_all
from audit.ocds.export import gather, packages
from audit.ocds.schemas import errors
from audit.rebuild import rebuild
from audit.temporal import TemporalProjection, list_as_of
from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import SystemClock
from eventstore.sql import make_engine
from eventstore.store import EventStore

NOW = Horizon(datetime(2030, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def test_verify_export_and_rebuild_over_a_generated_history(
    nats_client: NATS, tmp_path: Path
) -> None:
    history = generate(seed=11, events=1_000)
    loaded = await load_history(nats_client, history)
    store = EventStore(nats_client, SystemClock())

    live = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    await rebuild(
        store, live, TemporalProjection(), runners=projection_runner
    )  # the runner's batch code, as live would
    report = await verify_all(
        store, [REGISTRY, ENROLMENT], live, [TemporalProjection], runners=projection_runner
    )
    assert report.problems == []
    assert sum(s.events for s in report.streams) == loaded.events

    tenders = sorted({c.aggregate_id for c in history.commits if c.aggregate_type == "tender"})
    for tender_id in tenders:
        built = packages(await gather(store, tender_id, NOW), tender_id, NOW.known_at)
        assert errors(built["release_package"], "release-package-schema.json") == [], tender_id
        assert errors(built["record_package"], "record-package-schema.json") == [], tender_id
        tender = built["record_package"]["records"][0]["compiledRelease"]["tender"]
        assert tender["lots"], tender_id  # a cancellation never empties the lots

    scratch = make_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    await rebuild(store, scratch, TemporalProjection(), runners=projection_runner)
    projection = TemporalProjection.for_queries()
    for kind in ("tender", "contract", "enrolment_window", "organisation", "call_off"):
        for as_of in ("2012-01-01", "2016-03-01", "2021-01-01"):
            at = Horizon(datetime.fromisoformat(as_of + "T00:00:00+00:00"), NOW.known_at)
            with live.connect() as a, scratch.connect() as b:
                assert repr(list_as_of(a, projection, kind, at)) == repr(
                    list_as_of(b, projection, kind, at)
                )
