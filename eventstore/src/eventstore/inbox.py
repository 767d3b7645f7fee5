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
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

NO_RESPONDERS = "503"

log = logging.getLogger(__name__)


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
    A request unanswered within its timeout fails with `nats.errors.TimeoutError`; a reply
    saying no one listens (503) with `nats.errors.NoRespondersError`, as `request` raises them."""

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
        waiting = self._waiting.pop(token, None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_exception(nats.errors.TimeoutError())
