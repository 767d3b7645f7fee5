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
import base64
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    InvalidKeyError,
    KeyNotFoundError,
    NotFoundError,
)
from nats.js.kv import KeyValue, _is_key_valid

from contracts_schema.subjects import CONTEXTS, PROCESSED_COMMANDS_BUCKET, BoundedContext
from eventstore.last_messages import last_messages
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort, ProcessedCommands
from eventstore.store import EventStore

MISSING_BUCKET_RECHECK = 5.0  # seconds before another context's missing bucket is looked for
LEGACY_RECHECK = 5.0  # seconds between two looks for pre-uniqueness keys

log = logging.getLogger(__name__)


class KeyValueProcessedCommands:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

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
                KeyValueConfig(bucket=bucket, history=1, replicas=replicas)
            )
        return cls(kv)

    async def get(self, key: str) -> bytes | None:
        return await self.get_within(key, self._kv._js._timeout)

    async def get_within(self, key: str, timeout: float) -> bytes | None:
        """The key's value, or None; `timeout` seconds at most (`nats.errors.TimeoutError`)."""
        return await _last_value(self._kv, key, timeout)

    async def put(self, key: str, value: bytes) -> None:
        await self._kv.put(key, value)

    async def put_many(
        self, items: Sequence[tuple[str, bytes]], timeout: float
    ) -> list[BaseException | None]:
        """`put` of each (key, value), all in flight together under one reply inbox
        (`group_append.publish_acked`); per item None (written) or why not."""
        from eventstore.group_append import publish_acked

        bad = [k for k, _v in items if not _is_key_valid(k)]
        if bad:
            raise InvalidKeyError(bad[0])
        messages = [(f"{self._kv._pre}{k}", v) for k, v in items]
        return await publish_acked(self._kv._js._nc, messages, timeout)

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
        each would be a request each)."""
        return await last_values(self._kv._js._nc, self._kv._stream, self._kv._pre, keys)


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

    async def get(self, key: str) -> bytes | None:
        if self._kv is None:
            if self._monotonic() < self._missing_until:
                return None
            try:
                self._kv = await self._nc.jetstream().key_value(self._bucket)
            except BucketNotFoundError:
                # That context never recorded a command. Until it does, no command id can
                # be known there; one it records meanwhile is missed for at most `recheck`.
                self._missing_until = self._monotonic() + self._recheck
                return None
        return await _last_value(self._kv, key, self._kv._js._timeout)

    async def get_each(self, keys: Sequence[str], timeout: float) -> dict[str, bytes | None]:
        """`get` of each key, the Direct Gets all in flight under one reply inbox (a
        service may only Direct Get another context's bucket: deploy/nats/accounts.conf);
        the keys answered (a key not answered in `timeout`, or answered with an error, is
        left out: the caller reads it alone). A missing bucket answers None for every key,
        opened once for all of them."""
        from eventstore.group_append import requests_together

        if self._kv is None:
            if self._monotonic() < self._missing_until:
                return dict.fromkeys(keys)
            try:
                self._kv = await self._nc.jetstream().key_value(self._bucket)
            except BucketNotFoundError:
                self._missing_until = self._monotonic() + self._recheck
                return dict.fromkeys(keys)
        kv = self._kv
        plain = [k for k in dict.fromkeys(keys) if _PLAIN_KEY.match(k)]
        if not plain:
            return {}
        prefix = kv._js._prefix
        if kv._direct:
            asked = [(f"{prefix}.DIRECT.GET.{kv._stream}.{kv._pre}{k}", b"") for k in plain]
        else:  # (as `KeyValue.get` asks a bucket without Direct Get)
            api = f"{prefix}.STREAM.MSG.GET.{kv._stream}"
            asked = [(api, json.dumps({"last_by_subj": f"{kv._pre}{k}"}).encode()) for k in plain]
        found: dict[str, bytes | None] = {}
        for key, msg in zip(plain, await requests_together(self._nc, asked, timeout), strict=True):
            if msg is None:
                continue  # not answered: read alone
            read = _direct_value(msg) if kv._direct else _stored_value(msg)
            if read is not _UNREAD:
                found[key] = read
        return found

    async def put(self, key: str, value: bytes) -> None:
        raise PermissionError(f"{self._bucket} belongs to another context")


_UNREAD = b"\0unread"  # (an answer that is an error: the key is read alone, as `get` reads it)


def _direct_value(msg: Any) -> bytes | None:
    """A key's value from a Direct Get's answer, as `_last_value` reads it."""
    headers = msg.headers or {}
    if not msg.data and headers.get("Status"):
        return None if headers["Status"] == "404" else _UNREAD
    if headers.get("KV-Operation") in ("DEL", "PURGE"):
        return None
    value: bytes = msg.data
    return value


def _stored_value(msg: Any) -> bytes | None:
    """A key's value from a `STREAM.MSG.GET` answer, as `KeyValue.get` reads it."""
    try:
        reply = json.loads(msg.data)
    except ValueError:
        return _UNREAD
    error = reply.get("error") if isinstance(reply, dict) else None
    if error:
        return None if error.get("code") == 404 else _UNREAD
    stored = reply.get("message") if isinstance(reply, dict) else None
    if not isinstance(stored, dict):
        return _UNREAD
    if stored.get("hdrs"):
        for line in base64.b64decode(stored["hdrs"]).decode(errors="replace").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip() == "KV-Operation" and value.strip() in ("DEL", "PURGE"):
                return None
    return base64.b64decode(stored["data"]) if stored.get("data") else None


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


# Keys read together: tokens a subject filter takes literally (no wildcards, no spaces).
_PLAIN_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


async def last_values(nc: NATS, stream: str, prefix: str, keys: Iterable[str]) -> dict[str, bytes]:
    """The current value of each of `keys` that has one, in a key-value bucket's stream: one
    ephemeral consumer delivering the last message of each key's subject (a fresh group of
    keys, none recorded: one request, its answer counting none pending), instead of a request
    per key. A deleted or purged key has no value, as for `KeyValue.get`. Raises
    `BucketNotFoundError` when the bucket's stream does not exist; `ValueError` for a key a
    subject filter would not take literally (the caller reads that one alone); `PartialRead`
    when not every value could be read (the caller reads each key alone)."""
    wanted = sorted(set(keys))
    bad = [k for k in wanted if not _PLAIN_KEY.match(k) or ".." in k or k[0] == "." or k[-1] == "."]
    if bad:
        raise ValueError(f"keys not readable together: {bad[:3]}")
    found: dict[str, bytes] = {}
    subjects = [prefix + k for k in wanted]  # a consumer per thousand (`last_messages`)
    for subject, (headers, value) in (await last_messages(nc, stream, subjects)).items():
        if headers.get("KV-Operation") not in ("DEL", "PURGE"):
            found[subject[len(prefix) :]] = value
    return found


_records: type[ProcessedCommands] = KeyValueProcessedCommands
