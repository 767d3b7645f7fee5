"""correct23: an event lost from the stream (a block file cut short) split its aggregate's
history. With REGISTRY's version 2 of a contract gone, the registry decided the next command on
version 1 and wrote a second "version 2", which every reader then set aside as a duplicate.
Now a history that skips a version is refused as every untrusted one is (`UNTRUSTED_HISTORY`,
naming the versions); nothing is written on it until an operator repairs the stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NATS

from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from eventstore.store import EventStore
from tests.integration.audit.test_readers_refuse_forgeries import REGISTER, RENAME, gql
from tests.integration.gateway.harness import settings


async def _command(system: System, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    assert system.app is not None
    transport = httpx.ASGITransport(app=system.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        data = await gql(c, system, query, variables)
    return next(iter(data.values()))  # type: ignore[no-any-return]


def _rename(n: int) -> dict[str, Any]:
    return {"i": {"commandId": f"rename-{n}", "code": "GM0001", "name": f"One {n}"}}


async def test_a_history_missing_a_version_is_not_decided_on(
    nats_client: NATS, tmp_path: Path
) -> None:
    config = settings(database_url=f"sqlite:///{tmp_path}/read.db")
    first = await System(nats_client, tmp_path, config, with_notifier=False,
                         protect_streams=False).start()  # fmt: skip
    try:
        registered = await _command(first, REGISTER, {"i": {
            "commandId": "reg-1", "code": "GM0001", "name": "One", "kind": "MUNICIPALITY"}})  # fmt: skip
        assert registered["__typename"] == "CommandSucceeded", registered
        for n in (1, 2):
            renamed = await _command(first, RENAME, _rename(n))
            assert renamed["__typename"] == "CommandSucceeded", renamed
    finally:
        await first.stop()
    store = EventStore(nats_client, first.clock)
    history = await store.load(ENROLMENT, "organisation", "GM0001")
    assert [e.envelope.aggregate_version for e in history.events] == [1, 2, 3]
    # The stream loses version 2 (as a block file cut short loses its messages).
    await nats_client.jetstream().delete_msg(ENROLMENT.stream, history.events[1].seq)

    # A fresh process (nothing cached) loads the history from the stream.
    second = await System(nats_client, tmp_path, config, with_notifier=False,
                          protect_streams=False).start()  # fmt: skip
    try:
        refused = await _command(second, RENAME, _rename(3))
        assert refused.get("code") == "UNTRUSTED_HISTORY", refused  # before: accepted
        assert "missing: version 3 follows version 1" in refused["message"], refused
    finally:
        await second.stop()
    after = await store.load(ENROLMENT, "organisation", "GM0001")
    assert [e.envelope.aggregate_version for e in after.events] == [1, 3]  # nothing written
