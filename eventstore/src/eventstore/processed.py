"""Where a CommandService keeps its record of processed commands (`ports.ProcessedCommands`).

On JetStream: one key-value bucket per bounded context, `processed-commands-<context>`, keyed
by command id, so the loss of one bucket's leader touches that context only. Command ids are
unique across contexts: a service also reads (never writes) the other contexts' buckets before
it accepts a new id; one whose leader is being elected is skipped (documented gap). The
record is an index of replies, not the truth: `CommandService` answers from the aggregate's
events when the bucket cannot be read, and a record that could not be written is repaired by
the next duplicate. In memory: a dictionary the `InMemoryEventStore` owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    InvalidKeyError,
    KeyNotFoundError,
    NoStreamResponseError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from contracts_schema.subjects import CONTEXTS, PROCESSED_COMMANDS_BUCKET, BoundedContext
from eventstore.flushing import pong, queue_publish
from eventstore.inbox import LATE_REPLY_GRACE, after_caught_up, subscribe_sink
from eventstore.last_messages import last_messages
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort, ProcessedCommands
from eventstore.store import EventStore

MISSING_BUCKET_RECHECK = 5.0  # seconds before another context's missing bucket is looked for
LEGACY_RECHECK = 5.0  # seconds between two looks for pre-uniqueness keys
# `RecordMirror`: the key its barrier is published on (never a command id: they have no dots;
# nor a pre-uniqueness key `<context>.<id>`), the stream name its header expects (never a
# stream's: the stream refuses it), the keys a load's request asks for, its requests' bound.
MIRROR_BARRIER_KEY = "_mirror.barrier"
MIRROR_BARRIER_STREAM = "no stream: a mirror's barrier"
MIRROR_LOAD_BATCH = 1000
MIRROR_TIMEOUT = 5.0
MIRROR_RETRY = 30.0  # seconds before a load that failed is tried again
# `RecordMirror`: the keys it does not hold, answered "may exist" (looked up, as before any
# mirror): the OCDS import's command ids (`audit.ocds.importer_ids.command_id`), millions of
# records an import writes that no command but a resend of the import asks (cmd21: ~130 B a
# key held in every mirror of every service process, never shrunk).
UNMIRRORED_PREFIX = "import-"
STREAM_NOT_FOUND = 10059  # JetStream's error code
STREAM_MISMATCH = 10060  # JetStream's error code: a publish's `Nats-Expected-Stream` not met
# `RecordWrites.send_later`: a command's record is published without a reply subject and
# confirmed by the acknowledgement of a later write on the same connection (`_cover`): at
# most this many records go unconfirmed before one is acknowledged, at most this long before
# the next is (or, idle, a barrier confirms them: twice as long at most).
COVER_EVERY = 32
COVER_AFTER = 0.02  # seconds
RECORD_COVER_TIMEOUT = 1.0  # seconds a barrier `drain` sends waits for its answer
COVER_PAYLOAD = b"records' cover"  # a cover barrier's payload (never a mirror's load token)

log = logging.getLogger(__name__)


class KeyValueProcessedCommands:
    def __init__(self, kv: KeyValue, *, unlimited: bool = False) -> None:
        """`unlimited`: the bucket's stream is known to refuse no put of a plain key for its
        own sake (one replica, no size, count or age limit a put could meet): its writes by
        `send_later` are confirmed together (`RecordWrites.send_later`). `open` finds out."""
        self._kv = kv
        self._unlimited = unlimited and kv._direct
        self._lookups = (
            DirectLookups(kv._js._nc, f"{kv._js._prefix}.DIRECT.GET.{kv._stream}", kv._pre)
            if kv._direct
            else None
        )
        self._writes: RecordWrites | None = None
        self._mirror: RecordMirror | None = None

    async def mirror(self) -> RecordMirror | None:
        """This bucket's keys held here (`RecordMirror`), subscribed now and loading in the
        background; its writes from now on verify that it sees what this connection writes.
        None for a bucket without Direct Get (read through its leader: not mirrored)."""
        if self._mirror is None and self._kv._direct:
            self._mirror = RecordMirror.of(self._kv)
            await self._mirror.start()
            if self._writes is not None:
                self._writes.mirror = self._mirror
        return self._mirror

    def lookup(self, key: str, timeout: float) -> asyncio.Future[bytes | None]:
        """What `get_within` gives, as a future, with the lookups of one loop turn sent
        together (`DirectLookups`): one request for the commands that arrived together,
        none of them a task of its own. A bucket without Direct Get is read key by key."""
        if self._lookups is not None:
            return self._lookups.lookup(key, timeout)
        return asyncio.ensure_future(self.get_within(key, timeout))

    @classmethod
    async def open(
        cls, nc: NATS, context: BoundedContext, replicas: int = 1
    ) -> KeyValueProcessedCommands:
        js = nc.jetstream()
        bucket = processed_bucket(context)
        try:
            kv = await js.key_value(bucket)
        except Exception:  # bucket missing: create it (idempotent on the server)
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket, history=1, replicas=replicas, direct=direct_reads(replicas)
                )
            )
        try:
            unlimited = takes_every_put((await js.stream_info(kv._stream)).config)
        except Exception as exc:  # (not known: every write acknowledged by itself)
            log.info("the config of %s not read (%r); each record acknowledged", bucket, exc)
            unlimited = False
        return cls(kv, unlimited=unlimited)

    async def get(self, key: str) -> bytes | None:
        return await self.get_within(key, self._kv._js._timeout)

    async def get_within(self, key: str, timeout: float) -> bytes | None:
        """The key's value, or None; `timeout` seconds at most (`nats.errors.TimeoutError`)."""
        return await _last_value(self._kv, key, timeout)

    async def put(self, key: str, value: bytes) -> None:
        await self._kv.put(key, value)

    def write(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        """What `put` does, as a future, with the writes of one loop turn sent together and
        acknowledged each (`RecordWrites`), none of them a task or a request of its own."""
        return self._record_writes().write(key, value, timeout)

    async def send(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        """What `write` does, published on the caller's step (`RecordWrites.send`): queued
        on the connection when this returns, no task and no loop turn of its own."""
        return await self._record_writes().send(key, value, timeout)

    async def send_later(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        """What `send` does, its confirmation perhaps by a later write's acknowledgement
        (`RecordWrites.send_later`: a bucket `open` found `unlimited`), else as `send`."""
        if not self._unlimited:
            return await self.send(key, value, timeout)
        return await self._record_writes().send_later(key, value, timeout)

    def _record_writes(self) -> RecordWrites:
        if self._writes is None:
            self._writes = RecordWrites(self._kv._js._nc, self._kv._pre)
            self._writes.mirror = self._mirror
        return self._writes

    @property
    def settled(self) -> int:
        """Writes by `write` or `send` settled so far (`RecordWrites.settled`)."""
        return 0 if self._writes is None else self._writes.settled

    async def drain(self) -> None:
        """Until every write by `write` or `send` is acknowledged or timed out, those of
        callers that are gone included (`RecordWrites.drain`)."""
        if self._writes is not None:
            await self._writes.drain()

    async def cover(self) -> None:
        """The writes of `send_later` not yet confirmed, covered now (`RecordWrites.cover`):
        their futures settle within the cover's timeout."""
        if self._writes is not None:
            await self._writes.cover()

    async def holds_keys_under(self, prefix: str) -> bool:
        """Whether any key starts with `prefix` (deleted ones count): one read of the first
        message on the subjects under it."""
        try:
            await self._kv._js.get_msg(
                self._kv._stream,
                seq=1,
                subject=f"{self._kv._pre}{prefix}>",
                next=True,
                direct=self._kv._direct,
            )
        except NotFoundError:
            return False
        return True

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The recorded values of those of `keys` that have one, read together (`get` of
        each would be a request each): by Direct Get where the bucket has it (`lookup`: a
        `multi_last` request per 256 keys), else by one ephemeral consumer (`last_values`).
        The consumer costs the server ~25 times the CPU of the Direct Gets (19 ms for 360
        keys) and its creation a round trip of its own. Raises ValueError for a key not
        readable together, as `last_values` does."""
        if self._lookups is None:
            return await last_values(self._kv._js._nc, self._kv._stream, self._kv._pre, keys)
        wanted = _readable_together(keys)
        timeout = self._kv._js._timeout
        values = await asyncio.gather(*(self._lookups.lookup(k, timeout) for k in wanted))
        return {k: v for k, v in zip(wanted, values, strict=True) if v is not None}


def takes_every_put(config: Any) -> bool:
    """Whether a stream of this config refuses no put of a plain key for its own sake: one
    replica (no leader elected meanwhile), no limit a message could meet (the size of a
    message or of the stream, a number of messages, an age), nothing that refuses a message
    for its subject (discarding new ones per subject) and acknowledgements sent. What it can
    still refuse it refuses to every message alike (its storage failing, the stream gone):
    the acknowledgement of a later message on the same connection then confirms the earlier
    ones (`RecordWrites.send_later`)."""

    def unset(value: Any) -> bool:
        return value is None or value <= 0

    return bool(
        (config.num_replicas or 1) == 1
        and unset(config.max_msg_size)
        and unset(config.max_bytes)
        and unset(config.max_msgs)
        and unset(config.max_age)
        and not config.discard_new_per_subject
        and not config.no_ack
        and not config.sealed
        and config.mirror is None
    )


def direct_reads(replicas: int) -> bool:
    """Whether a new bucket answers reads by Direct Get. With one replica the answer comes
    from the stream itself, as fresh as a read through its leader's API (a record acked is
    read back), in a plain request and reply instead of a JSON API call, and several keys
    can be read in one request (`DirectLookups`). With more, any
    replica answers a Direct Get, one a moment behind the leader included: a record just
    written could be missed, so a replicated bucket is read through its leader as before."""
    return replicas == 1


def processed_bucket(context: BoundedContext) -> str:
    """The key-value bucket of one context's processed commands."""
    return f"{PROCESSED_COMMANDS_BUCKET}-{context.name}"


async def processed_commands_for(
    store: EventStorePort, context: BoundedContext
) -> ProcessedCommands:
    """The record that lives beside `store`: the context's JetStream bucket, or its memory."""
    if isinstance(store, EventStore):
        return await KeyValueProcessedCommands.open(store.nc, context, store.replicas)
    if isinstance(store, InMemoryEventStore):
        return store.processed_commands
    raise TypeError(
        f"no processed-commands record known for {type(store).__name__}: pass `processed`"
        " to the CommandService"
    )


async def records_elsewhere(
    store: EventStorePort, context: BoundedContext
) -> Sequence[ProcessedCommands]:
    """The other contexts' records, to refuse a command id another context used. In memory
    one record serves every context (its entries say which), so there is nothing else."""
    if not isinstance(store, EventStore):
        return ()
    return [
        LazyBucket(store.nc, processed_bucket(other))
        for other in CONTEXTS.values()
        if other.name != context.name
    ]


class LegacyKeys:
    """Whether a context's record may hold keys of the pre-uniqueness form `<context>.<id>`
    (written before command ids became unique across contexts; nothing writes them now).
    Where the bucket holds none, a command need not ask for its id under that key: one
    request and reply fewer per command. Looked for when the service starts and again every
    `recheck` seconds in the background (a key written meanwhile by an older process is
    missed for at most that long, as another context's missing bucket is). A record that
    cannot say (in memory, a group commit's held record) is always asked."""

    def __init__(
        self,
        record: object,
        context: BoundedContext,
        *,
        recheck: float = LEGACY_RECHECK,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record if isinstance(record, KeyValueProcessedCommands) else None
        self._prefix = f"{context.name}."
        self._recheck = recheck
        self._monotonic = monotonic
        self._absent = False
        self._checked = 0.0
        self._checking: asyncio.Future[None] | None = None

    async def look(self) -> None:
        """Look now (any failure: assume they may exist)."""
        if self._record is None:
            return
        try:
            self._absent = not await self._record.holds_keys_under(self._prefix)
        except Exception as exc:
            log.info("looking for pre-uniqueness keys failed (%r); they are asked for", exc)
            self._absent = False
        self._checked = self._monotonic()

    def possible(self) -> bool:
        """Whether a command must ask for its pre-uniqueness key (a stale answer is renewed
        in the background; until then it stands)."""
        if self._record is None:
            return True
        if self._checking is None and self._monotonic() - self._checked > self._recheck:
            self._checking = asyncio.ensure_future(self.look())
            self._checking.add_done_callback(self._looked)
        return not self._absent

    def _looked(self, _done: asyncio.Future[None]) -> None:
        self._checking = None

    async def close(self) -> None:
        """Wait for a look in the background to end (a service stopping: nothing left
        pending on a connection about to close)."""
        if self._checking is not None:
            await asyncio.gather(self._checking, return_exceptions=True)


class LazyBucket:
    """Another context's bucket, read only: opened on first use (it may not exist yet, or its
    leader may be elected), never created here. A bucket found missing is looked for again
    after `recheck` seconds, not on every command (that would add a round trip to each)."""

    def __init__(
        self,
        nc: NATS,
        bucket: str,
        *,
        recheck: float = MISSING_BUCKET_RECHECK,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._bucket = bucket
        self._kv: KeyValue | None = None
        self._recheck = recheck
        self._monotonic = monotonic
        self._missing_until = 0.0
        self._lookups: DirectLookups | None = None
        # The one look for the bucket under way: the commands that ask while it is out wait
        # for its answer (a missing bucket is looked for every `recheck` seconds; without
        # this each of the commands in flight at that moment sent a stream-info request of
        # its own, up to the concurrency: cmd14 counted 0.19 per command at c64).
        self._opening: asyncio.Future[KeyValue | None] | None = None
        # Its keys held here (`keep_keys`): a command id it does not hold is not asked.
        self.mirror: RecordMirror | None = None

    async def keep_keys(self) -> RecordMirror:
        """Its keys held here from now on (`RecordMirror`: subscribed now, loaded in the
        background; a bucket missing now is held from its first record on)."""
        if self.mirror is None:
            self.mirror = RecordMirror(
                self._nc, self._bucket, api_prefix=self._nc.jetstream()._prefix
            )
            await self.mirror.start()
        return self.mirror

    def lookup(self, key: str, timeout: float) -> asyncio.Future[bytes | None]:
        """As `KeyValueProcessedCommands.lookup`; a bucket known missing answers at once."""
        if self._lookups is not None:
            return self._lookups.lookup(key, timeout)
        if self._kv is None and self._monotonic() < self._missing_until:
            if self.mirror is not None and self.mirror.heard(key):
                # Written since it was found missing (its mirror heard it): looked for now.
                self._missing_until = 0.0
                return asyncio.ensure_future(self._get_within(key, timeout))
            missing: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            missing.set_result(None)
            return missing
        return asyncio.ensure_future(self._get_within(key, timeout))

    async def _get_within(self, key: str, timeout: float) -> bytes | None:
        async with asyncio.timeout(timeout):
            return await self.get(key)

    async def _opened(self) -> KeyValue | None:
        """The bucket, opened once (None: it does not exist, known for `recheck`); an opened
        bucket with Direct Get batches the lookups of a loop turn from then on. Callers that
        ask at once share one look (`_opening`); one that gives up waiting (its timeout)
        leaves the look going for the others."""
        if self._kv is not None or self._monotonic() < self._missing_until:
            return self._kv
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
            self._opening.add_done_callback(self._opened_now)
        return await asyncio.shield(self._opening)

    def _opened_now(self, opening: asyncio.Future[KeyValue | None]) -> None:
        self._opening = None
        if not opening.cancelled():
            opening.exception()  # raised to its waiters; not news when none is left

    async def _open(self) -> KeyValue | None:
        if self._kv is None:
            try:
                self._kv = await self._nc.jetstream().key_value(self._bucket)
            except BucketNotFoundError:
                # That context never recorded a command. Until it does, no command id can
                # be known there; one it records meanwhile is missed for at most `recheck`.
                self._missing_until = self._monotonic() + self._recheck
                return None
            if self._kv._direct:
                self._lookups = DirectLookups(
                    self._nc, f"{self._kv._js._prefix}.DIRECT.GET.{self._kv._stream}", self._kv._pre
                )
        return self._kv

    async def get(self, key: str) -> bytes | None:
        kv = await self._opened()
        if kv is None:
            return None
        return await _last_value(kv, key, kv._js._timeout)

    async def get_each(self, keys: Sequence[str], timeout: float) -> dict[str, bytes | None]:
        """`get` of each key, read together: with Direct Get by one request for all of them
        (`DirectLookups`; a service may only Direct Get another context's bucket:
        deploy/nats/accounts.conf), else a `get` each, all in flight. The keys answered (a
        key not answered in `timeout`, or answered with an error, is left out: the caller
        reads it alone). A missing bucket answers None for every key, opened once for all
        of them."""
        kv = await self._opened()
        if kv is None:
            return dict.fromkeys(keys)
        plain = [k for k in dict.fromkeys(keys) if _PLAIN_KEY.match(k)]
        lookups = self._lookups
        if lookups is not None:
            reads = await asyncio.gather(
                *(lookups.lookup(k, timeout) for k in plain), return_exceptions=True
            )
        else:
            reads = await asyncio.gather(
                *(_value_within(kv, k, timeout) for k in plain), return_exceptions=True
            )
        return {
            key: read
            for key, read in zip(plain, reads, strict=True)
            if not isinstance(read, BaseException)
        }

    async def put(self, key: str, value: bytes) -> None:
        raise PermissionError(f"{self._bucket} belongs to another context")


async def _last_value(kv: KeyValue, key: str, timeout: float) -> bytes | None:
    """A key's value as `KeyValue.get` reads it (a deleted or purged key has none), with a
    Direct Get of the key's last message and nothing else: no exception for a key that is
    not there (the common case: a new command id), no entry object; one request per key is
    most of what a command's lookup costs in CPU (`python -m bench.cost`)."""
    if not kv._direct:
        try:
            return (await kv.get(key)).value
        except KeyNotFoundError:
            return None
    subject = f"{kv._pre}{key}"
    if not _PLAIN_KEY.match(key):
        raise InvalidKeyError(key)
    prefix = kv._js._prefix
    msg = await kv._js._nc.request(
        f"{prefix}.DIRECT.GET.{kv._stream}.{subject}", b"", timeout=timeout
    )
    headers = msg.headers or {}
    if not msg.data:
        status = headers.get("Status")
        if status == "404":
            return None
        if status:
            raise APIError.from_msg(msg)
    if headers.get("KV-Operation") in ("DEL", "PURGE"):
        return None
    return msg.data


async def _value_within(kv: KeyValue, key: str, timeout: float) -> bytes | None:
    async with asyncio.timeout(timeout):
        return await _last_value(kv, key, timeout)


MULTI_LAST_CHUNK = 256  # keys per multi-key Direct Get (the server takes up to 1,024)


class DirectLookups:
    """The last values of keys of one bucket, asked within one loop turn, read by one Direct
    Get (`multi_last`, server 2.11+) instead of a request each: at concurrency 64 the
    commands that arrive in one socket read make one lookup request, not one each. A turn
    with one key sends the plain Direct Get of its subject (one answer, no end marker).

    The answers come on one inbox subscription of its own (`<inbox>.<batch>`): each found
    key's last message, then an end marker (204; 404 when none is found). A key without a
    message has no value, as a deleted or purged one. The server answers from one snapshot
    of the stream (`Nats-UpTo-Sequence`), as fresh as a single Direct Get sent then. An end
    marker that says more remain (the server cut the batch) asks again for the keys not yet
    answered. A batch not answered within the first lookup's timeout fails every lookup in
    it with `nats.errors.TimeoutError` (transient), as a request would."""

    def __init__(self, nc: NATS, api: str, prefix: str) -> None:
        self._nc = nc
        self._api = api  # `$JS.API.DIRECT.GET.<stream>`
        self._prefix = prefix  # `$KV.<bucket>.`
        self._inbox = nc.new_inbox()
        self._subscription: Subscription | None = None
        self._gathering: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._timeout = 0.0
        self._sending: asyncio.Future[None] | asyncio.Handle | None = None
        self._batches: dict[str, _Batch] = {}
        self._numbers = itertools.count(1)

    def lookup(self, key: str, timeout: float) -> asyncio.Future[bytes | None]:
        found: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        if not _PLAIN_KEY.match(key):
            found.set_exception(InvalidKeyError(key))
            return found
        waiting = self._gathering.setdefault(self._prefix + key, [])
        waiting.append(found)
        if self._sending is None:
            self._timeout = timeout
            self._schedule()
        return found

    def _schedule(self) -> None:
        """The lookups gathered so far sent after every other step of this loop turn (the
        lookups of the commands handled in this turn are all in by then): once the inbox is
        subscribed, by a plain loop callback that queues the requests on the connection
        (`flushing.queue_publish`: no task, no coroutine; 22-45 us of CPU a command less at
        c1 with three contexts' buckets, ~2%: bench/findings.md, cmd16); before, by a task
        that subscribes first."""
        if self._subscription is None:
            self._sending = asyncio.ensure_future(self._send())
        else:
            self._sending = asyncio.get_running_loop().call_soon(self._send_queued)

    async def _send(self) -> None:
        wanted, self._gathering, self._sending = self._gathering, {}, None
        try:
            if self._subscription is None:
                # Answers taken as read (`inbox.Sink`): no queue or task turn per answer.
                self._subscription = await subscribe_sink(
                    self._nc, f"{self._inbox}.*", self._answered
                )
        except Exception as exc:  # not subscribed (a connection closing): each lookup fails
            for waiting in wanted.values():
                _fail(waiting, exc)
            return
        self._ask_all(wanted)

    def _send_queued(self) -> None:
        wanted, self._gathering, self._sending = self._gathering, {}, None
        self._ask_all(wanted)

    def _ask_all(self, wanted: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        subjects = list(wanted)
        for start in range(0, len(subjects), MULTI_LAST_CHUNK):
            chunk = {s: wanted[s] for s in subjects[start : start + MULTI_LAST_CHUNK]}
            try:
                self._ask(chunk)
            except Exception as exc:  # not sent (a connection closing): each lookup fails
                for waiting in chunk.values():
                    _fail(waiting, exc)

    def _ask(self, wanted: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        token = str(next(self._numbers))
        single = len(wanted) == 1
        if single:  # a plain key's subject (`_PLAIN_KEY`): nothing in it for JSON to escape
            request = b'{"last_by_subj":"' + next(iter(wanted)).encode() + b'"}'
        else:
            request = json.dumps({"multi_last": list(wanted), "batch": len(wanted)}).encode()
            if len(request) > self._nc.max_payload:  # long keys: two smaller requests
                keys = list(wanted)
                half = len(keys) // 2
                self._ask({k: wanted[k] for k in keys[:half]})
                self._ask({k: wanted[k] for k in keys[half:]})
                return
        queue_publish(self._nc, self._api, f"{self._inbox}.{token}", request)
        # Timed once queued (a request not sent has no batch to answer).
        expiry = asyncio.get_running_loop().call_later(self._timeout, self._expired, token)
        self._batches[token] = _Batch(wanted, single, expiry)

    def _answered(self, msg: Msg) -> None:
        token = msg.subject.rpartition(".")[2]
        batch = self._batches.get(token)
        if batch is None:  # expired, or a late answer
            return
        headers = msg.headers or {}
        status = headers.get("Status")
        if not status:
            waiting = batch.wanted.pop(headers.get("Nats-Subject", ""), None)
            if waiting is not None:
                operation = headers.get("KV-Operation")
                value = None if operation in ("DEL", "PURGE") else msg.data
                for found in waiting:
                    if not found.done():
                        found.set_result(value)
            if not batch.single:
                return
            status = "404"  # one key, answered: what is left (nothing) has no value
        self._end(token)
        if status == "204" and int(headers.get("Nats-Num-Pending", "0")) > 0 and batch.wanted:
            for subject, waiting in batch.wanted.items():  # cut short: ask again for the rest
                self._gathering.setdefault(subject, []).extend(waiting)
            if self._sending is None:
                self._schedule()
            return
        if status in ("204", "404"):
            failure: Exception | None = None
        elif status == "503":  # as a request reports it
            failure = nats.errors.NoRespondersError()
        else:
            failure = _raised(APIError.from_msg, msg)
        for waiting in batch.wanted.values():
            if failure is None:
                for found in waiting:
                    if not found.done():
                        found.set_result(None)
            else:
                _fail(waiting, failure)

    def _end(self, token: str) -> None:
        batch = self._batches.pop(token)
        batch.expiry.cancel()

    def _expired(self, token: str) -> None:
        if token in self._batches:
            # Failed only if its answers are not among what the server sent before a PONG
            # (a starved loop lets the timer fall due with them here, unread: `inbox`).
            after_caught_up(self._nc, lambda: self._give_up(token))

    def _give_up(self, token: str) -> None:
        batch = self._batches.pop(token, None)
        if batch is not None:
            for waiting in batch.wanted.values():
                _fail(waiting, nats.errors.TimeoutError())


class RecordWrites:
    """Puts of one bucket, each published with its own reply subject on one inbox
    subscription (its acknowledgements taken as read, `inbox.Sink`) and acknowledged each by
    the stream as a put is: a write is done when its acknowledgement came, failed when the
    stream refused it (`APIError`) or none came within its timeout
    (`nats.errors.TimeoutError`, transient). Instead of a request each through nats-py's
    request machinery (a future, a timeout task, a JSON parse into an acknowledgement object
    per write). `send` publishes on the caller's own step (a command's record, queued on the
    connection before its reply); `write` gathers the writes of one loop turn into one step
    of one task."""

    def __init__(self, nc: NATS, prefix: str) -> None:
        self._nc = nc
        self._prefix = prefix  # `$KV.<bucket>.`
        self._inbox = nc.new_inbox()
        self._subscription: asyncio.Future[Subscription] | None = None
        self._gathering: list[tuple[str, bytes, asyncio.Future[None], float]] = []
        self._sending: asyncio.Future[None] | None = None
        # token -> its write and its timer (None: a write `send_later` left to a cover's).
        self._unacknowledged: dict[
            str, tuple[asyncio.Future[None], asyncio.TimerHandle | None]
        ] = {}
        self._numbers = itertools.count(1)
        self._settled = 0
        # This bucket's keys held here: each write of a key new to it checks that the mirror
        # saw it (its subscription's copy of our own publish comes before the acknowledgement).
        self.mirror: RecordMirror | None = None
        self._watched: dict[str, str] = {}  # token -> a key new to the mirror when sent
        # `send_later`: writes published without a reply subject, each with the connection's
        # life it was written in (`_life`), not yet covered by an acknowledged publish; the
        # acknowledged publishes (writes or barriers) that cover earlier ones; the barriers.
        self._uncovered: list[tuple[str, int | None]] = []
        self._covers: dict[str, tuple[int | None, list[tuple[str, int | None]]]] = {}
        self._barriers: set[str] = set()
        self._cover_due = 0.0  # loop time by which the next write is acknowledged
        self._idle: asyncio.TimerHandle | None = None

    async def send(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        """The write published now (queued on the connection when this returns), its
        acknowledgement to come in the future returned."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not _PLAIN_KEY.match(key):
            written.set_exception(InvalidKeyError(key))
            return written
        await self._publish(key, value, written, timeout)
        return written

    async def send_later(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        """What `send` does, with one message fewer: published without a reply subject (no
        acknowledgement of its own), confirmed by the acknowledgement of a later publish on
        this connection to this bucket (`_cover`), which the stream answers only after it
        has taken every message this connection sent it before (one connection, one order;
        one stream, one queue). For a bucket whose stream refuses no put for its own sake
        (`takes_every_put`: what it refuses, it refuses to every message alike), so a later
        message stored means this one was. A later write is acknowledged once `COVER_EVERY`
        writes wait or `COVER_AFTER` seconds passed since the first of them; with none to
        come (idle) a barrier the stream refuses unstored confirms them, `2 * COVER_AFTER`
        after the first at most, or at once by `drain`. Written in another life of the
        connection than its cover's (a reconnect between: it may be lost), or covered by a
        refusal or by no answer in time: failed as a timeout (transient: the caller writes
        it again, `put`, acknowledged by itself). The future: as `send`'s."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        if not _PLAIN_KEY.match(key):
            written.set_exception(InvalidKeyError(key))
            return written
        life = _life(self._nc)
        if (
            life is None
            or (self._uncovered and loop.time() >= self._cover_due)
            or len(self._uncovered) + 1 >= COVER_EVERY
            or self._subscription is None
            or not self._subscription.done()
        ):
            await self._publish(key, value, written, timeout)  # acknowledged: covers the rest
            return written
        token = str(next(self._numbers))
        self._unacknowledged[token] = (written, None)
        mirror = self.mirror
        if mirror is not None and not mirror.knows(key):
            self._watched[token] = key
            mirror.expect(key)
        try:
            await self._nc.publish(self._prefix + key, value)
        except Exception as exc:  # too large, a connection closing: this write fails
            self._settle(token)
            written.set_exception(exc)
            return written
        except BaseException:  # cancelled: perhaps on the wire, left to its cover
            written.add_done_callback(_seen)
            self._waits(token, life, timeout)
            raise
        self._waits(token, life, timeout)
        return written

    async def cover(self) -> None:
        """The writes of `send_later` not yet covered, covered now by a barrier (a stop, a
        caller that waits for them): settled within `RECORD_COVER_TIMEOUT`."""
        if self._uncovered:
            await self._cover(RECORD_COVER_TIMEOUT)

    def _waits(self, token: str, life: int | None, timeout: float) -> None:
        """`token` published without a reply subject: it waits for a cover."""
        if not self._uncovered:
            loop = asyncio.get_running_loop()
            self._cover_due = loop.time() + COVER_AFTER
            if self._idle is None:
                self._idle = loop.call_later(2 * COVER_AFTER, self._idle_cover, timeout)
        self._uncovered.append((token, life))

    def _idle_cover(self, timeout: float) -> None:
        """Idle: no acknowledged write came by `COVER_AFTER` after the writes waiting were
        due to be covered (a barrier covers them); else looked at again then."""
        self._idle = None
        if not self._uncovered:
            return
        loop = asyncio.get_running_loop()
        idle_at = self._cover_due + COVER_AFTER
        if loop.time() < idle_at:  # (writes since covered; those waiting now are younger)
            self._idle = loop.call_at(idle_at, self._idle_cover, timeout)
            return
        covering = asyncio.ensure_future(self._cover(timeout))
        covering.add_done_callback(_seen)

    async def _cover(self, timeout: float) -> None:
        """A barrier after the writes not yet covered: a publish on the bucket's subjects
        the stream refuses unstored (`Nats-Expected-Stream`, never its name, as the mirror's
        own barrier: `RecordMirror._load`), answered after every message queued before it."""
        if not self._uncovered:
            return
        token = str(next(self._numbers))
        self._barriers.add(token)
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answered.add_done_callback(_seen)
        expiry = asyncio.get_running_loop().call_later(timeout, self._expired, token)
        self._unacknowledged[token] = (answered, expiry)
        self._covers[token] = (_life(self._nc), self._uncovered)
        self._uncovered = []
        try:
            await self._nc.publish(
                self._prefix + MIRROR_BARRIER_KEY,
                COVER_PAYLOAD,
                reply=f"{self._inbox}.{token}",
                headers={"Nats-Expected-Stream": MIRROR_BARRIER_STREAM},
            )
        except Exception as exc:  # (a connection closing): what it covers, failed as lost
            self._settle(token)
            self._covered(token, False)
            answered.set_exception(exc)

    def _covered(self, token: str, confirmed: bool) -> None:
        """The acknowledged publish `token` answered (`confirmed`: stored, or a barrier
        refused as it is meant to be) or gave up: the writes it covers settled by it."""
        cover = self._covers.pop(token, None)
        if cover is None:
            return
        life, covered = cover
        for earlier, written_in in covered:
            watched = self._watched.get(earlier)
            waiting = self._settle(earlier)
            if waiting is None or waiting[0].done():
                continue
            if confirmed and life is not None and written_in == life:
                if watched is not None and self.mirror is not None:
                    self.mirror.acknowledged(watched)
                waiting[0].set_result(None)
            else:  # perhaps lost (another life of the connection, or refused): written again
                waiting[0].set_exception(nats.errors.TimeoutError())

    def write(self, key: str, value: bytes, timeout: float) -> asyncio.Future[None]:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not _PLAIN_KEY.match(key):
            written.set_exception(InvalidKeyError(key))
            return written
        self._gathering.append((key, value, written, timeout))
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send())
        return written

    async def _send(self) -> None:
        writes, self._gathering, self._sending = self._gathering, [], None
        for key, value, written, timeout in writes:
            await self._publish(key, value, written, timeout)

    async def _publish(
        self, key: str, value: bytes, written: asyncio.Future[None], timeout: float
    ) -> None:
        try:
            if self._subscription is None or not self._subscription.done():
                await self._subscribed()
        except Exception as exc:  # no inbox: this write fails, nothing was sent
            written.set_exception(exc)
            return
        token = str(next(self._numbers))
        # Awaited before it is published: a write cancelled once its message is queued on the
        # connection (its caller gone, a stop) is still waited for by `drain`, and settled by
        # its acknowledgement or its timeout, as any other.
        expiry = asyncio.get_running_loop().call_later(timeout, self._expired, token)
        self._unacknowledged[token] = (written, expiry)
        mirror = self.mirror
        if mirror is not None and not mirror.knows(key):
            self._watched[token] = key
            mirror.expect(key)
        if self._uncovered:  # (`send_later`'s writes before it: its acknowledgement covers them)
            self._covers[token] = (_life(self._nc), self._uncovered)
            self._uncovered = []
        try:
            await self._nc.publish(self._prefix + key, value, reply=f"{self._inbox}.{token}")
        except Exception as exc:  # too large, a connection closing: this write fails
            self._settle(token)
            self._covered(token, False)
            written.set_exception(exc)
        except BaseException:  # cancelled: perhaps on the wire, its outcome unknown to anyone
            written.add_done_callback(_seen)
            raise

    @property
    def settled(self) -> int:
        """Writes settled so far: acknowledged, refused, failed or timed out."""
        return self._settled

    async def drain(self) -> None:
        """Until every write published has been acknowledged or has timed out (a stop: no
        acknowledgement left to arrive on a connection about to close); the writes of
        `send_later` not yet covered, covered now."""
        await self.cover()
        while self._unacknowledged:
            waiting = [written for written, _expiry in self._unacknowledged.values()]
            await asyncio.gather(*waiting, return_exceptions=True)

    def _settle(self, token: str) -> tuple[asyncio.Future[None], asyncio.TimerHandle | None] | None:
        self._watched.pop(token, None)
        waiting = self._unacknowledged.pop(token, None)
        if waiting is not None:
            if waiting[1] is not None:
                waiting[1].cancel()  # (not left to fire a second after every write)
            if token in self._barriers:
                self._barriers.discard(token)  # (a barrier is no write)
            else:
                self._settled += 1
        return waiting

    async def _subscribed(self) -> None:
        """The inbox subscribed, once (the writes of a first busy turn wait for one)."""
        if self._subscription is None:
            self._subscription = asyncio.ensure_future(
                subscribe_sink(self._nc, f"{self._inbox}.*", self._acknowledged)
            )
        subscribing = self._subscription
        try:
            await asyncio.shield(subscribing)
        except Exception:
            if self._subscription is subscribing:
                self._subscription = None  # tried again by the next write
            raise

    def _acknowledged(self, msg: Msg) -> None:
        token = msg.subject.rpartition(".")[2]
        watched = self._watched.get(token)
        barrier = token in self._barriers
        waiting = self._settle(token)
        if waiting is None:
            return
        written = waiting[0]
        status = (msg.headers or {}).get("Status")
        stored = not status and b'"error"' not in msg.data
        if stored and watched is not None and self.mirror is not None:
            self.mirror.acknowledged(watched)
        if token in self._covers:  # the writes before it, confirmed by its answer
            refused_as_meant = barrier and not status and not stored and _mismatch(msg.data)
            self._covered(token, stored or refused_as_meant)
        if barrier:
            if not written.done():
                written.set_result(None)
            return
        if written.done():
            return
        if status == "503":  # as `KeyValue.put` reports it
            written.set_exception(NoStreamResponseError())
        elif status:
            written.set_exception(_raised(APIError.from_msg, msg))
        elif not stored:
            written.set_exception(_raised(APIError.from_error, json.loads(msg.data)["error"]))
        else:
            written.set_result(None)

    def _expired(self, token: str) -> None:
        if token in self._unacknowledged:
            # Failed only if its acknowledgement is not among what the server sent before a
            # PONG (as a lookup: `DirectLookups._expired`).
            after_caught_up(self._nc, lambda: self._give_up(token))

    def _give_up(self, token: str) -> None:
        self._covered(token, False)  # (the writes it covers: their outcome unknown)
        barrier = token in self._barriers
        self._barriers.discard(token)
        waiting = self._unacknowledged.pop(token, None)
        if waiting is not None:
            if not barrier:
                self._settled += 1
            if not waiting[0].done():
                waiting[0].set_exception(nats.errors.TimeoutError())


class RecordMirror:
    """The keys of one processed-commands bucket, held in this process: a command id it does
    not hold was never recorded there before this process read the command (so the command's
    lookup in that bucket can be skipped); one it holds is looked up as before (its record
    says whose reply it is). A superset: keys deleted since, and writes the stream refused,
    only cost the lookup they would have cost anyway. Keys of the import's form
    (`UNMIRRORED_PREFIX`) are not held: each is answered as one that may exist and looked up,
    as before any mirror (a million imported records cost no memory here). Kept for this
    context's bucket and for every other context's a command asks (`records_elsewhere`), so
    a warm command with a new id waits for no lookup at all.

    Kept by a plain subscription to the bucket's subjects (`$KV.<bucket>.>`), not by a
    JetStream consumer: the server hands a subscriber a publish in the same step in which it
    hands it to the stream, before it routes anything the publisher sends after it. So a
    record written by another process before that process sent its reply reaches this
    connection before any command its caller sends after reading that reply (one connection,
    one order, and `inbox.Sink` takes both as read).

    Loaded (the keys recorded before the subscription) with no gap, by protocol order
    (`_load`): once the server has the subscription, a *barrier* is published on the
    bucket's subjects (`MIRROR_BARRIER_KEY`) with a header the stream refuses it for
    (`Nats-Expected-Stream`, never the stream's name: nothing is stored). The stream takes
    the messages routed to it in one queue, in order, and answers the barrier only after
    storing every message queued before it: every record routed before the subscription
    existed (so not brought by it) is stored by the time the barrier's refusal arrives, and
    the load, read after that (Direct Get batches of `$KV.<bucket>.>` from the first
    sequence), holds it. Every record routed after the subscription existed is brought by
    it. No stream (no one answers the barrier): nothing was stored before, and whatever is
    stored later was routed after the subscription. The barrier's own copy, brought by the
    subscription before the refusal, shows that the subscription is allowed and delivers
    (a server that refuses a subscription says so asynchronously; a connection without
    echo never receives it): without it the mirror is never trusted.

    Trusted (`trusted`) once loaded so, and while the connection has not reconnected since
    (a subscription misses what is published while it is away: reloaded, trusted again
    after that). For this context's bucket, each write of a key new to the mirror is also
    checked: acknowledged and still not seen once the server answered a PING sent after the
    acknowledgement (`inbox.after_caught_up`) means the subscription stopped delivering:
    never trusted again (logged). A bucket whose stream has no Direct Get (replicated) is
    not loaded: never trusted, looked up as before."""

    def __init__(self, nc: NATS, bucket: str, *, api_prefix: str = "$JS.API") -> None:
        self._nc = nc
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._api = f"{api_prefix}.DIRECT.GET.{self._stream}"
        self._info = f"{api_prefix}.STREAM.INFO.{self._stream}"
        self._barrier = self._prefix + MIRROR_BARRIER_KEY
        self._keys: set[str] = set()
        self._subscription: Subscription | None = None
        self._loading: asyncio.Task[None] | None = None
        self._loaded = False
        self._reconnects = 0  # the connection's reconnects when it was last loaded
        self._barrier_seen = False
        self._token = b""  # the payload of this load's barrier
        self._broken = False
        self._expected: set[str] = set()  # our own new keys written, not yet seen
        self._closed = False
        self._absent = False  # its stream missing when last loaded (looked for again)
        self._absent_look: asyncio.Future[None] | None = None
        self._unmirrored_heard = False  # a key `mirrored` leaves out heard since the start

    @classmethod
    def of(cls, kv: KeyValue) -> RecordMirror:
        return cls(kv._js._nc, kv._name, api_prefix=kv._js._prefix)

    def __len__(self) -> int:
        """The keys held here (`mirrored`)."""
        return len(self._keys)

    async def start(self) -> None:
        """Subscribed (the server has the subscription) and loading in the background."""
        self._subscription = await subscribe_sink(self._nc, self._prefix + ">", self._seen)
        await pong(self._nc, LATE_REPLY_GRACE)  # (its SUB written before this PING)
        self._reload()

    async def loaded(self) -> bool:
        """Until the load under way (if any) ends: whether the mirror is trusted then."""
        loading = self._loading
        if loading is not None:
            await asyncio.gather(asyncio.shield(loading), return_exceptions=True)
        return self.trusted()

    def _reload(self) -> None:
        self._loaded = False
        self._reconnects = self._nc.stats["reconnects"]
        self._loading = asyncio.ensure_future(self._load())
        self._loading.add_done_callback(self._load_ended)

    async def _load(self) -> None:
        self._barrier_seen = False
        info = await self._nc.request(self._info, b"", timeout=MIRROR_TIMEOUT)
        if b'"error"' in info.data:
            if json.loads(info.data)["error"].get("err_code") != STREAM_NOT_FOUND:
                raise _raised(APIError.from_error, json.loads(info.data)["error"])
            # No stream after the subscription existed: it stored nothing routed before
            # (one deleted since has nothing left), and whatever a stream of that name
            # stores from now on by a publish was routed after it, so it brings that.
            # Nothing to load. But a stream can also appear with records no publish
            # brought (restored from a backup: `backup.restore_stream`): looked for again
            # every `MISSING_BUCKET_RECHECK` s (`_look_again`) and loaded once it
            # exists, as a lookup found a missing bucket again after as long (review20c).
            self._loaded = True
            self._absent = True
            return
        self._absent = False
        # Its payload is this load's own (the other processes' barriers come here too).
        self._token = self._nc.new_inbox().encode()
        refusal = await self._nc.request(
            self._barrier,
            self._token,
            timeout=MIRROR_TIMEOUT,
            headers={"Nats-Expected-Stream": MIRROR_BARRIER_STREAM},
        )
        if b'"error"' not in refusal.data:  # (stored after all: a stream of that name?)
            raise RuntimeError(f"the mirror's barrier was stored: {refusal.data!r}")
        if not self._barrier_seen:
            self._broken = True
            raise RuntimeError("the subscription did not bring the barrier: not delivering")
        try:
            self._keys |= await stored_keys(self._nc, self._api, self._prefix, keep=mirrored)
        except nats.errors.NoRespondersError:
            self._broken = True  # no Direct Get (a replicated bucket): never loaded
            raise
        self._loaded = True

    def _load_ended(self, loading: asyncio.Task[None]) -> None:
        if self._loading is loading:
            self._loading = None
        if loading.cancelled():
            return
        failure = loading.exception()
        if failure is None and self._absent and not self._closed:
            asyncio.get_running_loop().call_later(MISSING_BUCKET_RECHECK, self._look_again)
        if failure is not None:
            self._loaded = False
            log.warning(
                "processed-command keys of %s not loaded (%r); looked up instead%s",
                self._prefix,
                failure,
                "" if self._broken else f", loaded again in {MIRROR_RETRY:.0f} s",
            )
            if not self._broken and not self._closed:
                asyncio.get_running_loop().call_later(MIRROR_RETRY, self._again)

    def _look_again(self) -> None:
        """Its stream missing at the last load: whether it exists now (loaded if so)."""
        if self._loading is None and self._absent and not self._closed:
            self._absent_look = asyncio.ensure_future(self._absent_still())

    async def _absent_still(self) -> None:
        try:
            info = await self._nc.request(self._info, b"", timeout=MIRROR_TIMEOUT)
            error = json.loads(info.data).get("error") if b'"error"' in info.data else None
            missing = error is not None and error.get("err_code") == STREAM_NOT_FOUND
        except Exception:  # (a timeout, a connection closing): loaded again to be sure
            missing = False
        if self._closed or self._loading is not None or not self._absent:
            return
        if missing:
            asyncio.get_running_loop().call_later(MISSING_BUCKET_RECHECK, self._look_again)
        else:  # it exists now (or could not be told): untrusted until loaded behind a barrier
            self._reload()

    def _again(self) -> None:
        if self._loading is None and not self._loaded and not self._closed:
            self._reload()

    def _seen(self, msg: Msg) -> None:
        subject = msg.subject
        if subject == self._barrier:
            if msg.data == self._token:
                self._barrier_seen = True
            return
        key = subject[len(self._prefix) :]
        if mirrored(key):
            self._keys.add(key)
        else:
            self._unmirrored_heard = True
        if self._expected and key in self._expected:
            self._expected.discard(key)

    def knows(self, key: str) -> bool:
        """Whether a record of `key` may exist (held here, or a key of a form not held:
        `mirrored`); any other key has none."""
        return key in self._keys or key.startswith(UNMIRRORED_PREFIX)  # (`mirrored`, inline)

    def heard(self, key: str) -> bool:
        """Whether a record of `key` may have been written since the mirror was loaded: held
        here, or of a form not held while a key of that form has been heard since."""
        return key in self._keys or (self._unmirrored_heard and not mirrored(key))

    def trusted(self) -> bool:
        """Whether a key not held here has no record (see the class)."""
        if self._broken or not self._loaded:
            return False
        if self._nc.stats["reconnects"] != self._reconnects:
            if self._loading is None:
                self._reload()
            return False
        return True

    def expect(self, key: str) -> None:
        """Our own write of `key` (new here) is being sent: the subscription must bring it."""
        self._expected.add(key)

    def acknowledged(self, key: str) -> None:
        """The stream stored our write of `key`, new to the mirror when sent."""
        if key in self._expected:
            after_caught_up(self._nc, lambda: self._checked(key))

    def _checked(self, key: str) -> None:
        if key not in self._expected:
            return
        self._expected.discard(key)
        if not self._broken:
            self._broken = True
            log.warning(
                "the subscription to %s> does not deliver (our own write of %s unseen);"
                " every command id is looked up",
                self._prefix,
                key,
            )

    async def close(self) -> None:
        """The load stopped (a service stopping); the subscription ends with the connection."""
        self._closed = True
        if self._absent_look is not None:
            self._absent_look.cancel()
        loading = self._loading
        if loading is not None:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
        subscription, self._subscription = self._subscription, None
        if subscription is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()


async def stored_keys(
    nc: NATS,
    api: str,
    prefix: str,
    *,
    batch: int = MIRROR_LOAD_BATCH,
    keep: Callable[[str], bool] = lambda _key: True,
) -> set[str]:
    """The keys of every message stored in a bucket's stream (deleted and purged keys
    included) that `keep` takes, read by Direct Get batches of its subjects (`next_by_subj`
    from the first sequence, `batch` messages a request, each batch ended by the server's
    204 marker saying how many remain). A bucket without Direct Get (no one answers) raises
    `NoRespondersError`; a batch not answered within `MIRROR_TIMEOUT`, `TimeoutError`."""
    keys: set[str] = set()
    answers: asyncio.Queue[Msg] = asyncio.Queue()
    inbox = nc.new_inbox()
    subscription = await subscribe_sink(nc, inbox, answers.put_nowait)
    try:
        sequence = 1
        while True:
            request = {"seq": sequence, "next_by_subj": prefix + ">", "batch": batch}
            await nc.publish(api, json.dumps(request).encode(), reply=inbox)
            while True:
                async with asyncio.timeout(MIRROR_TIMEOUT):
                    msg = await answers.get()
                headers = msg.headers or {}
                status = headers.get("Status")
                if status == "404":  # nothing stored at or after `sequence`
                    return keys
                if status == "503":
                    raise nats.errors.NoRespondersError
                if status == "204":  # the batch's end
                    if int(headers.get("Nats-Num-Pending", "0")) == 0:
                        return keys
                    break
                if status:
                    raise _raised(APIError.from_msg, msg)
                key = headers["Nats-Subject"][len(prefix) :]
                if keep(key):
                    keys.add(key)
                sequence = int(headers["Nats-Sequence"]) + 1
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


def mirrored(key: str) -> bool:
    """Whether a mirror holds `key` when it hears it (`RecordMirror`); a key it does not
    hold, it answers as one that may exist (`UNMIRRORED_PREFIX`)."""
    return not key.startswith(UNMIRRORED_PREFIX)


def _mismatch(data: bytes) -> bool:
    """Whether a barrier's answer is the refusal it is meant to meet (`STREAM_MISMATCH`)."""
    try:
        return bool(json.loads(data)["error"].get("err_code") == STREAM_MISMATCH)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _life(nc: NATS) -> int | None:
    """Which life of the connection a message is written in (its reconnects so far); None
    while it is not connected (buffered, written in a life not yet begun)."""
    return nc.stats["reconnects"] if nc.is_connected else None


def _seen(written: asyncio.Future[None]) -> None:
    """A write nobody awaits any more: its failure is not news (no "never retrieved")."""
    if not written.cancelled():
        written.exception()


@dataclass
class _Batch:
    wanted: dict[str, list[asyncio.Future[bytes | None]]]  # subject -> lookups not answered
    single: bool
    expiry: asyncio.TimerHandle


def _raised(make: Callable[[Any], object], arg: Any) -> Exception:
    """The exception nats-py's `APIError.from_msg` / `from_error` raise (they raise it)."""
    try:
        make(arg)
    except Exception as exc:
        return exc
    return APIError()


def _fail(waiting: list[asyncio.Future[bytes | None]], exc: Exception) -> None:
    for found in waiting:
        if not found.done():
            found.set_exception(exc)


# Keys read together: tokens a subject filter takes literally (no wildcards, no spaces).
_PLAIN_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


def _readable_together(keys: Iterable[str]) -> list[str]:
    """The keys, once each, sorted; ValueError when a subject filter would not take one
    literally (the caller reads that one alone)."""
    wanted = sorted(set(keys))
    bad = [k for k in wanted if not _PLAIN_KEY.match(k) or ".." in k or k[0] == "." or k[-1] == "."]
    if bad:
        raise ValueError(f"keys not readable together: {bad[:3]}")
    return wanted


async def last_values(nc: NATS, stream: str, prefix: str, keys: Iterable[str]) -> dict[str, bytes]:
    """The current value of each of `keys` that has one, in a key-value bucket's stream: one
    ephemeral consumer delivering the last message of each key's subject (a fresh group of
    keys, none recorded: one request, its answer counting none pending), instead of a request
    per key. A deleted or purged key has no value, as for `KeyValue.get`. Raises
    `BucketNotFoundError` when the bucket's stream does not exist; `ValueError` for a key a
    subject filter would not take literally (the caller reads that one alone); `PartialRead`
    when not every value could be read (the caller reads each key alone)."""
    wanted = _readable_together(keys)
    found: dict[str, bytes] = {}
    subjects = [prefix + k for k in wanted]  # a consumer per thousand (`last_messages`)
    for subject, (headers, value) in (await last_messages(nc, stream, subjects)).items():
        if headers.get("KV-Operation") not in ("DEL", "PURGE"):
            found[subject[len(prefix) :]] = value
    return found


_records: type[ProcessedCommands] = KeyValueProcessedCommands
