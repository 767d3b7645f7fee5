"""A durable JetStream consumer that keeps going across reconnects and server restarts.

nats-py pull subscriptions can silently stop after a reconnect, so the loop re-arms the
subscription on any error instead of trusting it. Messages are handed over one at a time
in stream order; a message is acked only after its handler returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from contracts_schema.subjects import BoundedContext
from eventstore.store import StoredEvent, decode
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[list[StoredEvent]], Awaitable[None]]


class DurableSubscriber:
    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        durable: str,
        handler: Handler,
        *,
        batch: int = 256,
        subject_filter: str | None = None,
        start_seq: int | None = None,
    ) -> None:
        self._nc = nc
        self._context = context
        self._durable = durable
        self._handler = handler
        self._batch = batch
        self._filter = subject_filter or context.event_subjects
        self._start_seq = start_seq
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.rearms = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"durable-{self._durable}")

    async def stop(self) -> None:
        self._stopping.set()
        await cancel_and_wait(self._task)

    def _config(self) -> ConsumerConfig:
        if self._start_seq is not None:
            return ConsumerConfig(
                durable_name=self._durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._start_seq,
                filter_subject=self._filter,
                max_ack_pending=10_000,
                ack_wait=60,
            )
        return ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=self._filter,
            max_ack_pending=10_000,
            ack_wait=60,
        )

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                js: JetStreamContext = self._nc.jetstream()
                psub = await js.pull_subscribe(
                    self._filter,
                    durable=self._durable,
                    stream=self._context.stream,
                    config=self._config(),
                )
                await self._consume(psub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker restart, reconnect, stale subscription: re-arm
                self.rearms += 1
                log.info("durable %s re-arming after %s", self._durable, type(exc).__name__)
                await asyncio.sleep(0.2)

    async def _consume(self, psub: JetStreamContext.PullSubscription) -> None:
        idle = 0
        while not self._stopping.is_set():
            try:
                msgs = await psub.fetch(self._batch, timeout=1.0)
            except nats.errors.TimeoutError:
                idle += 1
                if idle % 5 == 0:
                    await psub.consumer_info()  # proves the consumer still exists; raises if not
                continue
            idle = 0
            events = [
                decode(m.subject, self._context.stream, m.metadata.sequence.stream, m.data)
                for m in msgs
            ]
            try:
                await self._handler(events)
            except Exception:
                # Hand the batch back now: left unacked it would return only after ack_wait,
                # behind later messages, and a checkpointing handler would skip past it.
                for m in msgs:
                    await m.nak()
                raise
            for m in msgs:
                await m.ack()
