"""Which command partitions this process serves, among the live processes of its service.

A sender puts the partition of the command's aggregate in the subject
(`contracts_schema.subjects.command_partition`); each partition is subscribed by one process
at a time, so an aggregate's commands meet one process and its warm cache instead of
alternating between caches the other process made stale. Processes find each other by
heartbeats on `<context>.members.<instance>` (plain NATS, nothing stored) and split the
partitions by the same rule, the live members sorted: partition p goes to member p mod n.

Routing is only about speed: the expected-sequence append and the idempotency record keep
every command correct whichever process takes it. So a change of members hands partitions
over without a gap: the new owner subscribes at once, the old one drains its subscription
a moment later (a command may meet either meanwhile; one queue group per partition, so never
both). A process that stops says so and drains its partitions after the others took them; a
process that dies leaves its partitions unserved until its heartbeats are missed: a sender
meeting no responder there sends on the unpartitioned subject instead (`eventstore.serving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts_schema.subjects import COMMAND_PARTITIONS, BoundedContext
from eventstore.inbox import Sink

log = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between a member's heartbeats
EXPIRY = 3.5  # a member not heard from this long is gone
HANDOVER = 0.3  # a partition given away is served this long more (the new owner subscribes)
HANDOVER_BOUND = 30.0  # at stop, the longest wait for handovers still draining (then cancelled)

HELLO, ALIVE, BYE = b"hello", b"alive", b"bye"


def owned_by(members: list[str], me: str) -> frozenset[int]:
    """The partitions `me` serves when `members` (sorted, `me` among them) are alive."""
    n = len(members)
    return frozenset(p for p in range(COMMAND_PARTITIONS) if members[p % n] == me)


class PartitionServer:
    """Subscribes the partitions of one context's commands that this process owns."""

    def __init__(
        self,
        nc: NATS,
        context: BoundedContext,
        queue: str,
        on_command: Callable[[Msg], Awaitable[None]] | Callable[[Msg], None],
    ) -> None:
        self._nc = nc
        self._context = context
        self._queue = queue
        self._on_command = on_command
        self.instance = uuid.uuid4().hex[:12]
        self._seen: dict[str, float] = {}  # member -> loop time last heard
        self._subscriptions: dict[int, Subscription] = {}
        self._members_sub: Subscription | None = None
        self._beating: asyncio.Task[None] | None = None
        self._handovers: set[asyncio.Task[None]] = set()
        self._leaving = False
        self._changing = asyncio.Lock()  # one change of subscriptions at a time
        self._owned: frozenset[int] = frozenset()  # by the rule, as last worked out

    @property
    def partitions(self) -> frozenset[int]:
        return frozenset(self._subscriptions)

    async def start(self) -> None:
        """Serve every partition (alone until others answer), then ask who else is alive."""
        self._members_sub = await self._nc.subscribe(self._context.members_subjects, cb=self._heard)
        await self._reconcile()
        await self._say(HELLO)
        self._beating = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> None:
        """Say goodbye, let the others take the partitions, then drain ours (every command
        already delivered here is handled; none arrives afterwards)."""
        self._leaving = True
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        with contextlib.suppress(Exception):  # the connection may be closing already
            await self._say(BYE)
            if self._seen:
                await asyncio.sleep(HANDOVER)
        # A handover in flight drains what it already took off our subscriptions: awaited,
        # not cancelled (cancelled mid-drain, its commands would be neither handled nor
        # unsubscribed); the bound only keeps a stuck command from holding the stop forever.
        if self._handovers:
            _done, stuck = await asyncio.wait(set(self._handovers), timeout=HANDOVER_BOUND)
            for task in stuck:
                task.cancel()
        for partition in list(self._subscriptions):
            await self._drain(partition)
        if self._members_sub is not None:
            with contextlib.suppress(Exception):
                await self._members_sub.unsubscribe()

    async def _say(self, what: bytes) -> None:
        await self._nc.publish(self._context.members_subject(self.instance), what)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await self._say(ALIVE)
                await self._reconcile()  # members whose heartbeats stopped are gone
            except Exception as exc:  # reconnecting: the next beat tries again
                log.info("partition heartbeat of %s failed: %r", self.instance, exc)

    async def _heard(self, msg: Msg) -> None:
        member = msg.subject.rsplit(".", 1)[-1]
        if member == self.instance or self._leaving:
            return
        if msg.data == BYE:
            self._seen.pop(member, None)
        else:
            new = member not in self._seen
            self._seen[member] = asyncio.get_running_loop().time()
            if msg.data == HELLO:
                await self._say(ALIVE)  # the newcomer learns of us at once
            if not new:
                return
        await self._reconcile()

    def _members(self) -> list[str]:
        now = asyncio.get_running_loop().time()
        for member, at in list(self._seen.items()):
            if now - at > EXPIRY:
                del self._seen[member]
        return sorted([*self._seen, self.instance])

    async def _reconcile(self) -> None:
        async with self._changing:
            await self._change()

    async def _change(self) -> None:
        if self._leaving:
            return
        members = self._members()
        mine = owned_by(members, self.instance)
        taken = sorted(mine - self._subscriptions.keys())
        for partition in taken:
            subjects, queue = (
                self._context.partition_subjects(partition),
                f"{self._queue}-{partition}",
            )
            if inspect.iscoroutinefunction(self._on_command):
                self._subscriptions[partition] = await self._nc.subscribe(
                    subjects, queue=queue, cb=self._on_command
                )
            else:  # a plain function: handed each command as read (`inbox.Sink`)
                sink: Any = Sink(self._on_command)  # type: ignore[arg-type]
                self._subscriptions[partition] = await self._nc.subscribe(
                    subjects, queue=queue, future=sink
                )
        given_away = self._subscriptions.keys() - mine
        if mine != self._owned:  # (a partition given away and back may never have left)
            self._owned = mine
            log.info(
                "%s member %s of %d: serves partitions %s",
                self._context.name,
                self.instance,
                len(members),
                ",".join(map(str, sorted(mine))),
            )
        if given_away:
            task = asyncio.get_running_loop().create_task(self._hand_over(given_away))
            self._handovers.add(task)
            task.add_done_callback(self._handovers.discard)

    async def _hand_over(self, partitions: set[int]) -> None:
        await asyncio.sleep(HANDOVER)
        async with self._changing:
            mine = owned_by(self._members(), self.instance)
            gone = [p for p in partitions - mine if p in self._subscriptions]
            subs = [self._subscriptions.pop(p) for p in gone]
        for sub in subs:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await sub.drain()  # type: ignore[no-untyped-call]  # (nats-py leaves it untyped)

    async def _drain(self, partition: int) -> None:
        sub = self._subscriptions.pop(partition, None)
        if sub is not None:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await sub.drain()  # type: ignore[no-untyped-call]  # (nats-py leaves it untyped)
