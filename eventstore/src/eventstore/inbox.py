"""Replies taken where nats-py reads them, without its per-message queue and task.

A nats-py subscription with a callback puts every message on a queue that a task of the
subscription takes, one loop turn later, to call the callback's coroutine; nats-py's own
requests go the same way (one inbox subscription with a callback) and add a future, a
`wait_for` and an inbox token per request. For the replies on a command's path (the
processed-command lookups, the record writes' and the append's acknowledgements, a command's
reply at its sender) that is most of what a message costs in Python. A subscription made
with a `future` instead is handed each message by the reader as it is parsed
(`Client._process_msg`: `sub._future.set_result(msg)`, meant for the single reply of an old-style
request); `Sink` is such a "future" that never completes and passes every message to a plain
function, at once. nats-py keeps the subscription across reconnects as any other.

A request's timer is wall time, and on a busy event loop it can fire while the reply it waits
for is already here, unread: asyncio runs the timers that are due in the same loop turn as the
socket's read callback, and the connection's reader parses what that read brought only a turn
later. Under CPU contention (CI51: 50 racing writers' loads beside two busy loops) a loop turn
took seconds and an append failed at 5 s whose reply had come in time; in a reproduction every
one of the requests failed so had bytes waiting in the socket or asyncio's buffer as the
timer fired, and every reply came within half a second after. So an expired request first
asks the server for a PONG (one PING, waited for at most `LATE_REPLY_GRACE`): the server sends
it after everything it wrote to us before, so a reply not read by then was not sent in time,
and only then fails. The other timers of the kind (a history's read in the event store, the
processed-command record's lookups and writes) decide the same way: `caught_up`,
`after_caught_up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventstore.flushing import pong

NO_RESPONDERS = "503"
LATE_REPLY_GRACE = 1  # seconds an expired request waits for the PONG behind its reply

log = logging.getLogger(__name__)

# Held: the loop keeps only weak references to tasks (`after_caught_up`).
_catching_up: set[asyncio.Task[None]] = set()


async def caught_up(nc: NATS) -> None:
    """Until what the server sent this connection before now has been read: one PING, its
    PONG waited for at most `LATE_REPLY_GRACE` s (the server's own write order is what is
    relied on; our queued commands overtaking it do not matter here). A connection closed,
    or no PONG either: returns all the same, and the caller decides on what it has."""
    with contextlib.suppress(Exception):
        await pong(nc, LATE_REPLY_GRACE)  # not `nc.flush`: a late PONG would end its reader


def after_caught_up(nc: NATS, then: Callable[[], None]) -> None:
    """`then()` once `caught_up`: for a timer that fell due, deciding that nothing came only
    after what came has been read. Called when cancelled too (the loop closing), so whatever
    waits on its decision never waits for good."""
    task = asyncio.ensure_future(_then(nc, then))
    _catching_up.add(task)
    task.add_done_callback(_catching_up.discard)


async def _then(nc: NATS, then: Callable[[], None]) -> None:
    try:
        await caught_up(nc)
    finally:
        then()


class Sink:
    """What nats-py takes for a subscription's future: every message to `handle`, as read."""

    def __init__(self, handle: Callable[[Msg], None]) -> None:
        self._handle = handle

    def cancelled(self) -> bool:
        return False

    def set_result(self, msg: Msg) -> None:
        try:
            self._handle(msg)
        except Exception:  # a bug: it must not stop the connection's reader
            log.exception("handling a message on %s failed", msg.subject)


async def subscribe_sink(nc: NATS, subject: str, handle: Callable[[Msg], None]) -> Subscription:
    """A subscription whose messages go to `handle` (a plain function: it must not block) as
    the connection reads them."""
    return await nc.subscribe(subject, future=Sink(handle))  # type: ignore[arg-type]


def _failed(future: asyncio.Future[Subscription]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


class Replies:
    """Requests' replies on one inbox subscription of a connection, each reply to its own
    future: a request is a publish with a reply subject and a future, no task, no `wait_for`.
    A request unanswered within its timeout fails with `nats.errors.TimeoutError`, once what
    the server sent before then has been read (see the module's docstring; a silent responder
    fails after the timeout and one PING's round trip, at most `LATE_REPLY_GRACE` s more); a
    reply saying no one listens (503) with `nats.errors.NoRespondersError`, as `request`
    raises them."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = ""  # `<inbox>.`, made with the subscription (the connection's prefix)
        self._subscribing: asyncio.Future[Subscription] | None = None
        self._waiting: dict[str, tuple[asyncio.Future[Msg], asyncio.TimerHandle]] = {}
        self._numbers = itertools.count(1)

    async def request(
        self,
        subject: str,
        payload: bytes,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> Msg:
        """As `nc.request`: the reply, or `TimeoutError` / `NoRespondersError`."""
        subscribing = self._subscribing
        if subscribing is None or _failed(subscribing):
            # None yet, or an earlier one failed (a connection closing): this request tries
            # again rather than repeating a stale failure.
            self._prefix = self._nc.new_inbox() + "."
            subscribing = self._subscribing = asyncio.ensure_future(
                subscribe_sink(self._nc, self._prefix + "*", self._answered)
            )
        if not subscribing.done():
            # Shielded: a request cancelled while it waits leaves the subscribe to the others.
            await asyncio.shield(subscribing)
        loop = asyncio.get_running_loop()
        token = str(next(self._numbers))
        answer: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = (answer, loop.call_later(timeout, self._expired, token))
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
            msg = await answer
        finally:
            waiting = self._waiting.pop(token, None)
            if waiting is not None:
                waiting[1].cancel()
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS and not msg.data:
            raise nats.errors.NoRespondersError
        return msg

    def _answered(self, msg: Msg) -> None:
        waiting = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if waiting is None:  # too late: given up
            return
        answer, expiry = waiting
        expiry.cancel()
        if not answer.done():
            answer.set_result(msg)

    def _expired(self, token: str) -> None:
        waiting = self._waiting.get(token)
        if waiting is not None and not waiting[0].done():
            # It fails unless its reply is among what the server sent before a PONG (read
            # first: one connection, one order).
            after_caught_up(self._nc, lambda: self._give_up(token))

    def _give_up(self, token: str) -> None:
        waiting = self._waiting.pop(token, None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_exception(nats.errors.TimeoutError())
