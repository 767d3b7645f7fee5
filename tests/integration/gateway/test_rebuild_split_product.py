"""The product's split rebuild (audit.bluegreen_split) into a live
database (SQLite or PostgreSQL): every table's rows as a direct build (review14: only the
bench's orchestration of the split was compared before; the CLI test covers SQLite only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from audit.bluegreen_split import blue_green_split
from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from eventstore.clock import SystemClock
from eventstore.split_rebuild import Connect
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables


@pytest.mark.timeout(600)
async def test_split_into_postgres(
    nats_server: NatsServer, nats_client: NATS, database_url: str, tmp_path: Path
) -> None:
    history = generate(seed=37, events=1_200)
    await load_history(nats_client, history)
    store = EventStore(nats_client, SystemClock())
    live = make_engine(database_url)
    built = await blue_green_split(
        store, live, list(ALL), runners=projection_runner, connect=Connect((nats_server.url,))
    )
    assert len(built) == len(ALL)
    metadata = _tables()
    reference = make_engine(f"sqlite:///{tmp_path}/reference.db")
    build_read_models(reference, stored_events(history), batch=500)
    got, expected = _rows(live, metadata), _rows(reference, metadata)
    for name in expected:
        if name.endswith("_events"):
            got[name] = [r[:2] + r[3:] for r in got[name]]
            expected[name] = [r[:2] + r[3:] for r in expected[name]]
        assert sorted(got[name], key=repr) == sorted(expected[name], key=repr), name
    live.dispose()
    reference.dispose()
