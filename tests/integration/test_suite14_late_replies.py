"""A reply the server sent in time is not lost to a busy event loop (`eventstore.inbox`).

CI51: an append of the racing-writers test failed with a 5 s timeout whose reply had come: on
a loop whose turns take seconds (CPU contention) a request's timer can fire in the same turn
as the socket read that brought its reply, before the connection's reader parses it. Here the
loop is held (a synchronous sleep, as a long turn is) while the reply lands in the socket and
the timer falls due. The responder runs in a thread of its own, on its own connection and
loop, so that this loop takes no turn between the reply's sending and the hold.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import nats.errors
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore.flushing import flushed
from eventstore.inbox import Replies
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer

TIMEOUT = 0.3


class Responder:
    """Answers `slow` once told to (`go`); says when it has the request and when it replied."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received, self.go, self.replied = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        nc = await connect(self.url)

        async def answer(msg: Msg) -> None:
            self.received.set()
            await asyncio.to_thread(self.go.wait, 30)
            await nc.publish(msg.reply, b"answer")
            await flushed(nc)  # the server has routed it to the requester
            self.replied.set()

        await nc.subscribe("slow", cb=answer)
        await flushed(nc)
        self.ready.set()
        await self._stop.wait()
        await nc.close()

    def __enter__(self) -> Responder:
        self._thread.start()
        assert self.ready.wait(30), "the responder did not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        self.go.set()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def responder(nats_server: NatsServer) -> Iterator[Responder]:
    with Responder(nats_server.url) as started:
        yield started


async def test_a_reply_that_came_in_time_is_read_though_the_timer_fell_due_first(
    responder: Responder, nats_client: NATS
) -> None:
    replies = Replies(nats_client)
    request = asyncio.ensure_future(replies.request("slow", b"", timeout=TIMEOUT))
    # This loop turns (its flusher sends the request) until the responder has it.
    assert await asyncio.to_thread(responder.received.wait, 30)

    # One long turn: the reply is sent and reaches this connection's socket, and the
    # request's timer falls due, before this loop reads anything.
    responder.go.set()
    assert responder.replied.wait(30)
    time.sleep(TIMEOUT + 0.3)  # noqa: ASYNC251 - the busy loop turn is what is tested

    assert (await request).data == b"answer"


async def test_a_reply_that_never_comes_still_times_out(
    responder: Responder, nats_client: NATS
) -> None:
    replies = Replies(nats_client)
    with pytest.raises(nats.errors.TimeoutError):
        await replies.request("slow", b"", timeout=TIMEOUT)  # never told to answer
    request = asyncio.ensure_future(replies.request("slow", b"", timeout=TIMEOUT))
    await asyncio.sleep(0.05)
    time.sleep(TIMEOUT + 0.3)  # noqa: ASYNC251 - nor when the loop was held past the timer
    with pytest.raises(nats.errors.TimeoutError):
        await request
