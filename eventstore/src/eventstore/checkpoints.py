"""Signed checkpoints: a service anchors its stream's head so a cut or re-sealed tail shows.

A checkpoint names a stream sequence and the digest of everything up to it:
digest(n) = sha256(digest(n-1) | seq | event hash), from the empty digest. It is signed with
the context's key and kept in the CHECKPOINTS stream (`checkpoints.<context>`, no delete, no
purge). The auditor recomputes the digest while reading the stream: a stream that ends
before a checkpoint was cut (`truncated`); a different digest means history up to that
point was rewritten, even with every hash re-sealed (`resealed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from contracts_schema.subjects import BoundedContext
from eventstore.hashing import canonical_json
from eventstore.records import StoredEvent
from eventstore.signing import EventSigner, signature_holds
from eventstore.store import EventStore

log = logging.getLogger(__name__)

CHECKPOINT_STREAM = "CHECKPOINTS"
# A checkpoint is ~300 bytes; anything much larger is not one, and is not decoded (a deeply
# nested array of a few KB ends json.loads in RecursionError).
MAX_CHECKPOINT_BYTES = 4096
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


def checkpoint_subject(context: BoundedContext) -> str:
    return f"checkpoints.{context.name}"


def advance(digest: str, seq: int, event_hash: str) -> str:
    return hashlib.sha256(f"{digest}|{seq}|{event_hash}".encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    context: str
    seq: int
    digest: str
    signer: str
    signature: str
    # Why the stored message is no checkpoint at all (None: it decoded). Kept, not skipped,
    # so that `audit verify` names it (`bad-checkpoint`).
    malformed: str | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, data: bytes | None) -> Checkpoint:
        """The checkpoint in `data`; ValueError saying why it is none."""
        if data is not None and len(data) > MAX_CHECKPOINT_BYTES:
            raise ValueError(f"{len(data)} bytes: longer than any checkpoint")
        try:
            values = json.loads(data or b"")
        except RecursionError:
            raise ValueError("nested too deeply to be a checkpoint") from None
        fields = ("context", "seq", "digest", "signer", "signature")
        if not isinstance(values, dict) or sorted(values) != sorted(fields):
            raise ValueError(f"not an object with exactly the fields {', '.join(fields)}")
        seq = values["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ValueError(f"seq {seq!r} is not a stream sequence")
        if not all(isinstance(values[f], str) for f in fields if f != "seq"):
            raise ValueError("context, digest, signer and signature must be strings")
        return cls(**values)

    def body(self) -> dict[str, Any]:
        return {"context": self.context, "seq": self.seq, "digest": self.digest,
                "signer": self.signer}  # fmt: skip

    def signed_text(self) -> str:
        return canonical_json(self.body()).decode()

    def holds(self) -> bool:
        return signature_holds(self.signer, self.signed_text(), self.signature)


async def ensure_checkpoint_stream(store: EventStore) -> None:
    js = store.nc.jetstream()
    with contextlib.suppress(NotFoundError):
        await js.stream_info(CHECKPOINT_STREAM)
        return
    await js.add_stream(
        StreamConfig(
            name=CHECKPOINT_STREAM,
            subjects=["checkpoints.>"],
            storage=StorageType.FILE,
            num_replicas=store.replicas,
            deny_delete=True,
            deny_purge=True,
            allow_direct=True,
        )
    )


async def read_checkpoints(store: EventStore, context: BoundedContext) -> list[Checkpoint]:
    js = store.nc.jetstream()
    found: list[Checkpoint] = []
    try:
        info = await js.stream_info(CHECKPOINT_STREAM)
    except NotFoundError:
        return found
    seq = 1
    while seq <= info.state.last_seq:
        try:
            msg = await js.get_msg(
                CHECKPOINT_STREAM, seq=seq, next=True, subject=checkpoint_subject(context)
            )
        except NotFoundError:
            break
        try:
            found.append(Checkpoint.parse(msg.data))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            why = f"{CHECKPOINT_STREAM} seq {msg.seq}: {exc}"[:300]
            found.append(Checkpoint(context.name, 0, "", "", "", malformed=why))
        seq = (msg.seq or seq) + 1
    return found


async def write_checkpoint(
    store: EventStore,
    context: BoundedContext,
    signer: EventSigner,
    after: Checkpoint | None = None,
) -> Checkpoint | None:
    """Anchor the stream's current head (None when nothing is new since the last one).

    `after`: this service's last checkpoint, when the caller knows it (the anchoring loop
    keeps it), so that a round does not read and verify every checkpoint ever written."""
    await ensure_checkpoint_stream(store)
    previous = after if after is not None else await own_last_checkpoint(store, context, signer)
    digest, seq = (previous.digest, previous.seq) if previous else (EMPTY_DIGEST, 0)
    head = seq
    async for event in decodable_events(store, context, seq + 1):
        digest = advance(digest, event.seq, event.envelope.hash)
        head = event.seq
    if head == seq:
        return None
    unsigned = Checkpoint(context.name, head, digest, signer.public_key, "")
    checkpoint = Checkpoint(
        context.name, head, digest, signer.public_key, signer.sign(unsigned.signed_text())
    )
    body = json.dumps({**checkpoint.body(), "signature": checkpoint.signature}).encode()
    await store.nc.jetstream().publish(checkpoint_subject(context), body, stream=CHECKPOINT_STREAM)
    return checkpoint


async def decodable_events(
    store: EventStore, context: BoundedContext, from_seq: int
) -> AsyncIterator[StoredEvent]:
    """The stream's events from `from_seq`, a message that is no event envelope (published
    with the stream's NATS login, not its key) passed over: the digest `audit verify`
    recomputes covers the same events (it names that message `undecodable`), so one such
    message no longer stops every later anchoring round (correct17)."""
    while True:
        try:
            async for event in store.read_stream(context, from_seq):
                from_seq = event.seq + 1
                yield event
            return
        except ValidationError:
            bad = await store.nc.jetstream().get_msg(
                context.stream, seq=from_seq, next=True, subject=context.event_subjects
            )
            log.warning(
                "%s seq %s is no event envelope: left out of the checkpoint's digest"
                " (`audit verify` names it)",
                context.stream,
                bad.seq or from_seq,
            )
            from_seq = (bad.seq or from_seq) + 1


async def own_last_checkpoint(
    store: EventStore, context: BoundedContext, signer: EventSigner
) -> Checkpoint | None:
    """This service's own last validly signed checkpoint. Anything else on the subject
    (written with the service's NATS login but without its key) could name a sequence far
    ahead and stop the anchoring, or a wrong digest that every later checkpoint carries on.
    Walked from the newest, so only the checkpoints after it are verified."""
    for c in reversed(await read_checkpoints(store, context)):
        if (
            c.malformed is None
            and c.context == context.name
            and c.signer == signer.public_key
            and c.holds()
        ):
            return c
    return None


async def checkpoint_periodically(
    store: EventStore, context: BoundedContext, signer: EventSigner, interval: float
) -> None:
    """The service's anchoring loop (cancel to stop); a failed round is retried next time.
    Each round continues from the checkpoint the round before wrote (read from the stream
    once, at the first round, and again after a failed round)."""
    last: Checkpoint | None = None
    while True:
        try:
            last = await write_checkpoint(store, context, signer, last) or last
        except asyncio.CancelledError:
            raise
        except Exception:
            last = None  # read again: the failure may have been after the publish
            log.exception("checkpoint of %s failed", context.stream)
        await asyncio.sleep(interval)
