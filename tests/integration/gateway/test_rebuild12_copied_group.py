"""A split rebuild's group whose rows are copied elsewhere builds no read indexes of its own
(the join, or the live tables, index them); a group built in place does."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client as NATS

from bench.history.generator import generate
from bench.loader import load_history
from bootstrap.parts import projection_runner
from eventstore.rebuild_indexes import read_indexes
from eventstore.split_rebuild import Connect, GroupJob, TrustSpec, build_groups, join, tables_of
from eventstore.sql import make_engine
from eventstore.trust import trust_of
from gateway.projections import ALL
from tests.integration.gateway.test_rebuild_equals_live import _declared, _indexes


async def test_a_copied_group_leaves_its_indexes_to_the_join(
    nats_client: NATS, tmp_path: Path
) -> None:
    loaded = await load_history(nats_client, generate(seed=47, events=2_500))
    connected = nats_client.connected_url
    assert connected is not None
    makers = tuple(ALL)
    metadata = tables_of(makers)
    assert read_indexes(metadata)  # there are some to defer

    def job(name: str, indexes: bool) -> GroupJob:
        return GroupJob(
            Connect((connected.geturl(),)),
            f"sqlite:///{tmp_path / name}",
            makers,
            dict(loaded.last_seq),
            TrustSpec.of(trust_of(nats_client)),
            projection_runner,
            read_indexes=indexes,
        )

    await build_groups([job("copied.db", False), job("in-place.db", True)])
    copied = make_engine(f"sqlite:///{tmp_path / 'copied.db'}")
    in_place = make_engine(f"sqlite:///{tmp_path / 'in-place.db'}")
    declared = _declared(metadata)
    assert _indexes(in_place, metadata) == declared
    # The deferred ones were dropped, not built again (a read model whose streams are too
    # short to catch up in bulk keeps its indexes throughout).
    found = _indexes(copied, metadata)
    assert found != declared
    assert all(set(found[name]) <= set(declared[name]) for name in declared)
    deferred = {str(index.name) for index in read_indexes(metadata)}
    missing = {i[0] for name in declared for i in declared[name]} - {
        i[0] for name in found for i in found[name]
    }
    assert missing <= deferred

    target = make_engine(f"sqlite:///{tmp_path / 'target.db'}")
    join(target, {str(tmp_path / "copied.db"): makers})
    assert _indexes(target, metadata) == declared
    for engine in (copied, in_place, target):
        engine.dispose()
