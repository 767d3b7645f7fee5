"""Live delivery for a checkpointing runner: one lingering pull request, messages pushed into it.

`DurableSubscriber._consume` asks for every batch with nats-py's `fetch`: per batch, a
`no_wait` request, its 404 answer, a second (lingering) request, and a task per awaited
message (each named with a fresh `uuid4`, a `getrandom` call), plus an ack per message. In
the gateway's projector four read models do that for every registry event, on the one event
loop that also hands batches to the runner threads and announces their commits; under load
that loop was busy ~70% of the time and "reply -> fetched by the projector" was the largest
step of the freshness figures (fresh12). Worse, a subscriber asked for its next batch only
once the last one was committed: an event stored meanwhile waited for that round trip too.

`LivePull` keeps one pull request open on the consumer (up to `batch` messages, renewed when
it is used up or expires: from the inbox's callback, as soon as its end is heard, not when
the delivery next asks for a batch -- fresh19: between the two, during the apply under way,
stored events were not pushed), so the server pushes each event as it is stored into an inbox
served by a plain callback (no task per message); they wait in a buffer while the batch
before is applied and are handed over at once after it. The consumer acknowledges
cumulatively (`AckPolicy.ALL`): one ack per batch. Everything `DurableSubscriber` guarantees
with a `position` holds: every arm recreates the consumer right after the owner's position,
events at or below it are dropped, a batch that does not continue right after it is cut at
the gap (unless the stream holds nothing matching in between) and the consumer recreated;
idle, a consumer still owing acknowledgements lost a delivery on the way (a gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts_schema.subjects import BoundedContext
from eventstore.subscription import DeliveryGap, delivery, in_order, nothing_between

# A pull request lingers this long on the server (it ends sooner when used up); renewed
# then. After IDLE seconds without a message the consumer is looked at (it exists; nothing
# was lost on the way), and again every IDLE seconds.
EXPIRES = 2.0  # seconds
IDLE = 5.0  # seconds
GRACE = 1.0  # seconds past its expiry a request whose end we never heard counts as ended

_V1_TOKENS = 9  # tokens of a v1 JetStream reply subject


def stream_sequence(msg: Msg) -> int:
    """The stream sequence of a JetStream message, read off its reply subject.

    nats-py's `msg.metadata` parses every field of the subject (a timestamp into a datetime,
    two dataclasses): ~10 us a message, half of a rebuild's own read cost besides the
    decode. The catch-up needs the stream sequence alone; in the reply subject's v1 form,
    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`, it
    is the sixth token. Any other form is left to nats-py.
    """
    reply = msg.reply
    if reply.startswith("$JS.ACK."):
        tokens = reply.split(".")
        if len(tokens) == _V1_TOKENS:
            return int(tokens[5])
    return msg.metadata.sequence.stream


class Ended(Exception):
    """The server ended the consumer's requests for good (deleted, a leader change): re-arm."""


class LivePull:
    """One armed consumer's deliveries, in stream order (`CatchUpSubscriber` arms one per
    attempt; any exception out of `batches` means: re-arm from the owner's position)."""

    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        durable: str,
        subject_filter: str,
        batch: int,
        position: Callable[[], int],
    ) -> None:
        self._nc = nc
        self._context = context
        self._durable = durable
        self._filter = subject_filter
        self._batch = batch
        self._position = position
        self._buffer: list[tuple[Msg, float]] = []  # (message, arrived: wall clock)
        self._arrived = asyncio.Event()
        self._ended: Exception | None = None
        self._owed = 0  # messages the open request may still bring
        self._open_until = 0.0  # loop time after which the open request surely ended
        self._sub: object = None
        self._next_subject = ""
        self._inbox = ""

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.ALL,  # one ack per batch: the runner applies in order
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self._position() + 1,
            filter_subject=self._filter,
            max_ack_pending=10_000,
            ack_wait=60,
        )

    async def arm(self) -> None:
        """(Re)create the consumer right after the owner's position and open a request."""
        js = self._nc.jetstream()
        stream = self._context.stream
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, self._durable)
        info = await js.add_consumer(stream, self.config())
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{info.name}"
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(
            self._inbox, cb=self._on_message, pending_msgs_limit=4 * self._batch + 64
        )
        await self._request()

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):  # a closed connection
                await self._sub.unsubscribe()  # type: ignore[attr-defined]
            self._sub = None

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status:
            if status == "409" and "Exceeded" not in (msg.headers or {}).get("Description", ""):
                # Consumer deleted, leadership change: nothing more comes from this one.
                self._ended = Ended(f"{status} {(msg.headers or {}).get('Description', '')}")
            self._owed = 0  # 404/408: the request is over (expired, or nothing there)
            if status == "408" and self._ended is None:
                await self._renew()  # now, not when the apply under way ends
            self._arrived.set()
            return
        self._buffer.append((msg, time.time()))
        self._owed -= 1
        if self._owed <= 0:
            await self._renew()  # used up: the next events are pushed meanwhile too
        self._arrived.set()

    async def _renew(self) -> None:
        """A request from the inbox's callback (its end heard); a failure to send it is left
        to `next_batch`, which asks again."""
        try:
            await self._request()
        except Exception:  # a closed or reconnecting connection
            self._owed = 0

    async def _request(self) -> None:
        """Open a request for what the buffer has room for, unless one is still open."""
        loop = asyncio.get_running_loop()
        if loop.time() > self._open_until:
            self._owed = 0  # its end went unheard (a reconnect, a restarted server)
        room = self._batch - len(self._buffer)
        if self._owed > 0 or room <= 0:
            return
        body = {"batch": room, "expires": int(EXPIRES * 1e9)}
        self._owed = room
        self._open_until = loop.time() + EXPIRES + GRACE
        await self._nc.publish(self._next_subject, json.dumps(body).encode(), reply=self._inbox)

    async def next_batch(self) -> list[Msg]:
        """The next messages that continue right after the owner's position (waiting for
        them), as `DurableSubscriber` hands them over; raises `DeliveryGap` after handing
        what came before a gap, `Ended` when the consumer is gone."""
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while not self._buffer:
            if self._ended is not None:
                raise self._ended
            self._arrived.clear()
            await self._request()
            with contextlib.suppress(TimeoutError):  # a request's end went unheard
                await asyncio.wait_for(self._arrived.wait(), EXPIRES + GRACE)
            if not self._buffer and loop.time() - idle_since >= IDLE:
                await self._check_idle()
                idle_since = loop.time()
        taken, self._buffer = self._buffer[: self._batch], self._buffer[self._batch :]
        await self._request()  # the next ones arrive while this batch is applied
        # For the announced stages: when the batch's first and last messages arrived (every
        # event of it was here by the last), and when it was taken (the batch before applied
        # meanwhile).
        delivery.set({"arrived": taken[0][1], "fetched": taken[-1][1], "taken": time.time()})
        return [m for m, _ in taken]

    def peek(self, most: int) -> list[Msg]:
        """The first `most` messages waiting for the next batch (not taken): the shared
        delivery prepares them ahead while the batch before commits."""
        return [m for m, _ in self._buffer[:most]]

    async def _check_idle(self) -> None:
        """Proves the consumer still exists (raises if not). Idle while messages are pending
        acknowledgement: they went astray on the way to us."""
        info = await self._nc.jetstream().consumer_info(self._context.stream, self._durable)
        if info.num_ack_pending and not self._buffer:
            pending = info.num_ack_pending
            raise DeliveryGap(f"{pending} delivered messages never came")

    async def in_order(self, msgs: list[Msg]) -> tuple[list[Msg], DeliveryGap | None]:
        """The part of a batch that continues right after the position, and the gap if any
        (a redelivery of something processed is acknowledged with the next ack)."""
        return await in_order(
            msgs,
            self._position() + 1,
            stream_sequence,
            functools.partial(nothing_between, self._nc, self._context.stream, self._filter),
        )
