"""rebuild14: a group process of the product's split rebuild that dies while the groups share
the streams' read (`eventstore.shared_read`) is reported, the other group never waits for it
forever, and nothing half-built is cut over: the live read models stay as they were."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import update
from sqlalchemy.engine import Dialect

from audit.bluegreen_split import blue_green_split
from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from eventstore.catchup import CATCH_UP_BATCH
from eventstore.clock import SystemClock
from eventstore.records import StoredEvent
from eventstore.split_rebuild import Connect
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL, OrganisationsProjection
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables


class _DiesInItsGroup(OrganisationsProjection):
    """The organisations read model, whose group process dies past the first range."""

    def prepare(self, dialect: Dialect, events: list[StoredEvent]):  # type: ignore[no-untyped-def]
        if multiprocessing.parent_process() is not None and events[-1].seq > CATCH_UP_BATCH:
            os._exit(9)  # as a process killed from outside: no clean-up, no message
        return super().prepare(dialect, events)


@pytest.mark.timeout(600)
async def test_a_group_that_dies_is_reported_and_nothing_is_cut_over(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    await load_history(nats_client, generate(seed=43, events=5_000))
    store = EventStore(nats_client, SystemClock())
    live = make_engine(f"sqlite:///{tmp_path}/live.db")
    connect = Connect((nats_server.url,))
    await blue_green_split(store, live, list(ALL), runners=projection_runner, connect=connect)
    metadata = _tables()
    # A mark in the live rows that any rebuild's cut-over would overwrite.
    table = metadata.tables[f"{OrganisationsProjection().key}_organisations"]
    with live.begin() as conn:
        marked = conn.execute(update(table).values(name="LIVE, NOT REBUILT")).rowcount
    assert marked
    before = _rows(live, metadata)

    dying = [_DiesInItsGroup if m is OrganisationsProjection else m for m in ALL]
    with pytest.raises(BrokenProcessPool):
        await blue_green_split(store, live, dying, runners=projection_runner, connect=connect)
    assert _rows(live, metadata) == before
    live.dispose()
