"""rebuild23: a split rebuild derives the contracts' counted corners (and the event log's
counts, enrolment's spans) once at its end, in the group's process, after every runner of
the group stopped (`split_rebuild._derive`). A derivation that fails fails the rebuild
visibly, naming the failure, and nothing is cut over: the live read models stay as they
were (the group's database, counts missing, is never joined)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy.engine import Dialect

from audit.bluegreen_split import blue_green_split
from bootstrap.parts import projection_runner
from eventstore.bulk import Statement
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL, ContractsProjection
from tests.integration.gateway.test_rebuild15_group_fails import _live
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables


class _DerivationFails(ContractsProjection):
    """The contracts read model whose derivation at the end meets a statement the database
    refuses, after its real ones (in the group's process)."""

    def derived(self, dialect: Dialect) -> list[Statement]:
        return [
            *super().derived(dialect),
            Statement("INSERT INTO no_such_table_rebuild23 VALUES (1)", [()]),
        ]


@pytest.mark.timeout(300)
async def test_a_failing_derivation_fails_the_rebuild_and_nothing_is_cut_over(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    store, live, connect = await _live(nats_server, nats_client, tmp_path)
    before = _rows(live, _tables())
    failing = [_DerivationFails if m is ContractsProjection else m for m in ALL]
    with pytest.raises(Exception, match="no_such_table_rebuild23") as raised:
        await blue_green_split(store, live, failing, runners=projection_runner, connect=connect)
    assert "_derive" in str(raised.value.__cause__)  # the group's own traceback
    assert _rows(live, _tables()) == before
    assert not multiprocessing.active_children()
    live.dispose()
