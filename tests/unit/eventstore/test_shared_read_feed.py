"""rebuild13/14: a group's `Feed` takes another group's judged ranges, and gives up on one (the
tap then reads and judges it itself) whenever the range is not to be had as sent."""

from __future__ import annotations

import asyncio
import os
from multiprocessing.connection import Connection

from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.shared_read import _END, Feed, Sender, decoded
from eventstore.trust import Delivered

KEY = ("ENROLMENT", "enrolment.>")


def _range() -> list[Delivered]:
    events = stored_events(generate(seed=5, events=40))["ENROLMENT"][:10]
    return [(e.subject, e.seq, e.envelope.model_dump_json().encode(), None) for e in events]


def _pair() -> tuple[Sender, Feed]:
    read, write = os.pipe()
    sender = Sender({1: Connection(write, readable=False)})
    return sender, Feed({0: Connection(read, writable=False)})


def test_a_range_comes_decoded_with_the_feeders_verdicts() -> None:
    delivered = _range()
    delivered[3] = (delivered[3][0], delivered[3][1], b"{not json", None)
    problems: list[str | None] = [None] * len(delivered)
    problems[3] = "undecodable: not a valid event envelope (1 errors)"
    problems[5] = "altered: the stored hash does not match the event's content"

    async def go() -> None:
        sender, feed = _pair()
        await sender.send((KEY, 0, delivered, problems), [1])
        events = await feed.take(KEY, 0, 0, "ENROLMENT")
        assert events is not None
        assert [e.seq for e in events] == [d[1] for d in delivered]
        assert [e.refused for e in events] == problems  # the verdicts, not judged again
        assert events[3].envelope.event_id == "?"  # the placeholder of undecodable bytes
        assert events[5].envelope.event_id != "?"  # decoded: altered, not undecodable
        assert events[0].envelope.model_dump_json().encode() == delivered[0][2]
        # Taken once: a lagging runner asking again reads it itself.
        assert await feed.take(KEY, 0, 0, "ENROLMENT") is None
        await asyncio.to_thread(sender.close)
        feed.close()

    asyncio.run(go())


def test_bytes_that_do_not_decode_are_refused_whatever_the_verdict() -> None:
    delivered = _range()[:2]
    delivered[1] = (delivered[1][0], delivered[1][1], b"[]", None)
    events = decoded("ENROLMENT", delivered, [None, None])
    assert events[0].refused is None
    assert (events[1].refused or "").startswith("undecodable")


def test_a_range_the_feeder_will_not_send_is_read_alone() -> None:
    async def go() -> None:
        sender, feed = _pair()
        await sender.send((KEY, _END, 0), [1])  # group 0 reads that stream no more
        assert await asyncio.wait_for(feed.take(KEY, 4, 0, "ENROLMENT"), 5) is None
        other = ("REGISTRY", "registry.>")
        await asyncio.to_thread(sender.close)  # the feeder ended: the pipe's end
        assert await asyncio.wait_for(feed.take(other, 0, 0, "REGISTRY"), 5) is None
        feed.close()

    asyncio.run(go())


def test_a_group_gone_never_holds_the_sender() -> None:
    async def go() -> None:
        sender, feed = _pair()
        feed.close()
        delivered = _range()
        for index in range(40):  # far more than the pipe and `HELD` hold
            await asyncio.wait_for(sender.send((KEY, index, delivered, [None] * 10), [1]), 10)
        await asyncio.to_thread(sender.close)

    asyncio.run(go())


def test_a_range_waited_for_is_kept_when_it_comes() -> None:
    # rebuild14: the tap asks before the owner has sent (the usual order when both groups
    # read side by side): the range is kept for it, not dropped as one given up on.
    delivered = _range()

    async def go() -> None:
        sender, feed = _pair()
        taking = asyncio.create_task(feed.take(KEY, 1, 0, "ENROLMENT"))
        await asyncio.sleep(0.05)
        assert not taking.done()
        await sender.send((KEY, 1, delivered, [None] * 10), [1])
        events = await asyncio.wait_for(taking, 10)
        assert events is not None
        assert [e.seq for e in events] == [d[1] for d in delivered]
        assert feed.taken == 1
        await asyncio.to_thread(sender.close)
        feed.close()

    asyncio.run(go())
