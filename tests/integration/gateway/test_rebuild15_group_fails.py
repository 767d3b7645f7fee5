"""rebuild15 (review17 #1): a group of the product's split rebuild that fails before it
installs the shared read (its scratch database cannot open; NATS not reachable is the same
path) or is killed from outside is reported, the rebuild does not hang on the other group,
and nothing half-built is cut over: the live read models stay as they were."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import Engine, update
from sqlalchemy.engine import Dialect

from audit.bluegreen_split import blue_green_split
from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from eventstore import split_rebuild
from eventstore.catchup import CATCH_UP_BATCH
from eventstore.clock import SystemClock
from eventstore.records import StoredEvent
from eventstore.split_rebuild import Connect, GroupDied
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL, EnrolmentProjection, OrganisationsProjection
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables


async def _live(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> tuple[EventStore, Engine, Connect]:
    """A live database built once, with a mark any rebuild's cut-over would overwrite."""
    await load_history(nats_client, generate(seed=43, events=5_000))
    store = EventStore(nats_client, SystemClock())
    live = make_engine(f"sqlite:///{tmp_path}/live.db")
    connect = Connect((nats_server.url,))
    await blue_green_split(store, live, list(ALL), runners=projection_runner, connect=connect)
    table = _tables().tables[f"{OrganisationsProjection().key}_organisations"]
    with live.begin() as conn:
        assert conn.execute(update(table).values(name="LIVE, NOT REBUILT")).rowcount
    return store, live, connect


# Bounded by the test's timeout: on 382848a the other group's pipe write and its close waited
# for the failed group's idle pool worker for good, and the rebuild never returned.
@pytest.mark.timeout(300)
async def test_a_group_failing_before_it_shares_fails_the_rebuild_at_once(
    nats_server: NatsServer,
    nats_client: NATS,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, live, connect = await _live(nats_server, nats_client, tmp_path)
    before = _rows(live, _tables())
    real = split_rebuild.scratch_engine

    def failing(url: str) -> Engine:  # in the forked group processes, which inherit it
        if "group-1" in url:
            raise RuntimeError("group 1 could not open its scratch database")
        return real(url)

    monkeypatch.setattr(split_rebuild, "scratch_engine", failing)
    with pytest.raises(RuntimeError, match="group 1 could not open") as raised:
        await blue_green_split(store, live, list(ALL), runners=projection_runner, connect=connect)
    assert "failing" in str(raised.value.__cause__)  # the group's own traceback
    assert _rows(live, _tables()) == before
    assert not multiprocessing.active_children()  # the other group was stopped, not left
    live.dispose()


class _KilledInItsGroup(EnrolmentProjection):
    """The enrolment read model, whose group process is killed past the first range (while
    the other group may be waiting for its ranges or writing to it)."""

    def prepare(self, dialect: Dialect, events: list[StoredEvent]):  # type: ignore[no-untyped-def]
        if multiprocessing.parent_process() is not None and events[-1].seq > CATCH_UP_BATCH:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().prepare(dialect, events)


@pytest.mark.timeout(300)
async def test_a_group_killed_mid_rebuild_is_reported_and_nothing_is_cut_over(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    store, live, connect = await _live(nats_server, nats_client, tmp_path)
    before = _rows(live, _tables())
    killed = [_KilledInItsGroup if m is EnrolmentProjection else m for m in ALL]
    with pytest.raises(GroupDied, match="exit code -9"):
        await blue_green_split(store, live, killed, runners=projection_runner, connect=connect)
    assert _rows(live, _tables()) == before
    assert not multiprocessing.active_children()
    live.dispose()
