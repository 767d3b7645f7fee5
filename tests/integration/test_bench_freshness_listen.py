"""fresh23: the freshness benchmark hears the projectors' announcements in a process of its
own (not on the probes' loop): what it heard, in order, with the positions and stages each
announcement named; the inline way (for an A/B) hears the same."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from bench.suites.freshness import LISTENER_ENV, Announcements
from eventstore.projection_news import SUBJECT_PREFIX, News
from eventstore.testing.nats_server import NatsServer


@pytest.mark.parametrize("where", ["process", "inline"])
async def test_the_announcements_heard_are_the_ones_sent_in_order(
    nats_server: NatsServer, nats_client: NATS, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv(LISTENER_ENV, where)
    heard = Announcements()
    assert heard.inline is (where == "inline")
    await heard.start(nats_client, nats_server.url)
    sent = [
        News({"REGISTRY": seq}, 9, 0, {"received": 1.0 + seq, "committed": 2.0 + seq})
        for seq in range(1, 6)
    ]
    for news in sent:
        await nats_client.publish(f"{SUBJECT_PREFIX}.contracts.abc.contracts_v9", news.encode())
    await nats_client.publish("gt.other.subject", b"not an announcement")
    await nats_client.flush()
    # What the process heard comes at its stop; inline, once the loop ran the callbacks.
    for _ in range(1000):
        if heard.inline and len(heard.heard) >= len(sent):
            break
        await nats_client.flush()
    await heard.stop()
    assert [k for _, k, _ in heard.heard] == ["contracts_v9"] * 5
    assert [n.positions for _, _, n in heard.heard] == [{"REGISTRY": s} for s in range(1, 6)]
    assert [n.stages["received"] for _, _, n in heard.heard] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert all("announced" in n.stages for _, _, n in heard.heard)
    arrivals = [a for a, _, _ in heard.heard]
    assert arrivals == sorted(arrivals)
