"""A versioned read model's announcements say how many cold timelines it folded and from where
(`News.histories`): the counters live in the projector process, and whoever measures a cold
timeline's cost (the freshness benchmark) hears them there. A read model that folds no
timelines (the event log) announces none."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore.projection_news import SUBJECT_PREFIX, News
from eventstore.store import EventStore
from gateway.projections import ContractsProjection
from gateway.projections.event_log import EventLogProjection
from tests.integration.gateway.harness import start_gateway
from tests.integration.gateway.history import sign_c1


async def test_a_restarted_read_model_announces_the_history_it_folded(
    nats_client: NATS, event_store: EventStore, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = await start_gateway(nats_client, event_store, url)
    try:
        await first.settle(await sign_c1(first))
    finally:
        await first.stop()
    heard: list[tuple[str, News]] = []
    news_came = asyncio.Event()

    async def on_news(msg: Msg) -> None:
        heard.append((msg.subject.rsplit(".", 1)[-1], News.decode(msg.data)))
        news_came.set()

    def covers(key: str, stream: str, seq: int) -> bool:
        return any(k == key and n.stages and n.positions.get(stream, 0) >= seq for k, n in heard)

    listening = await nats_client.subscribe(f"{SUBJECT_PREFIX}.>", cb=on_news)
    second = await start_gateway(nats_client, event_store, url)  # no timeline in memory
    second._commands = first._commands
    try:
        amended = await second.given(
            "contract",
            "ContractAmended",
            {"contract_id": "c1", "amended_on": "2017-01-01", "summary": "eerste"},
            on=date(2017, 1, 1),
        )
        await second.settle(amended)
        contracts, log = ContractsProjection().key, EventLogProjection().key
        stream, seq = amended[-1].stream, amended[-1].seq
        async with asyncio.timeout(30):  # the commits' announcements follow their positions
            while not (covers(contracts, stream, seq) and covers(log, stream, seq)):
                news_came.clear()
                await news_came.wait()
        after = [n for k, n in heard if k == contracts and n.stages]
        assert after, "the contracts read model announced no commit"
        assert after[-1].histories == {"local": 1, "loaded": 0}  # from the event log beside it
        assert all(n.histories == {} for k, n in heard if k == log)
    finally:
        await listening.unsubscribe()
        await second.stop()
