"""The last message of many subjects of a stream at once (many keys of a key-value bucket,
many aggregates of an event stream), read by one ephemeral consumer per thousand subjects: a
group commit's lookups in a request or two instead of one request each.

An answer is complete or an error (`PartialRead`), never a part that looks whole: a caller
that gets an error reads each subject on its own instead."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError

TIMEOUT = 5.0  # seconds, for each request
CHUNK = 1000  # subjects per consumer (its config stays well under max_payload)
_ENDED = ("404", "408")  # a no_wait pull's "no (more) messages"


class PartialRead(RuntimeError):
    """The consumer stopped delivering before every message it counted was read."""


async def last_messages(
    nc: NATS, stream: str, subjects: list[str], *, headers_only: bool = False
) -> dict[str, tuple[dict[str, str], bytes]]:
    """The last message (headers, data) of each subject matching `subjects` (filters; a
    wildcard gives each of its subjects' last), by the subject it was stored on: one ephemeral
    consumer per `CHUNK` filters, one request when nothing matches (its answer counts none
    pending), instead of a request per subject. `headers_only`: each message's headers, its
    data empty (its size in `Nats-Msg-Size`), to learn which subjects have one. Raises
    `BucketNotFoundError` (a `NotFoundError`) when the stream does not exist, `PartialRead`
    when not every message counted could be read."""
    found: dict[str, tuple[dict[str, str], bytes]] = {}
    for start in range(0, len(subjects), CHUNK):
        chunk = subjects[start : start + CHUNK]
        found.update(await _last_of(nc, stream, chunk, headers_only))
    return found


async def _last_of(
    nc: NATS, stream: str, subjects: list[str], headers_only: bool
) -> dict[str, tuple[dict[str, str], bytes]]:
    config: dict[str, Any] = {
        "deliver_policy": "last_per_subject",
        "ack_policy": "none",
        "replay_policy": "instant",
        "filter_subjects": subjects,
        "mem_storage": True,
        "num_replicas": 1,
        "inactive_threshold": 10_000_000_000,  # ns: gone by itself if the delete is lost
    }
    if headers_only:
        config["headers_only"] = True
    request = json.dumps({"stream_name": stream, "config": config}).encode()
    msg = await nc.request(f"$JS.API.CONSUMER.CREATE.{stream}", request, timeout=TIMEOUT)
    created = json.loads(msg.data)
    if "error" in created:
        if created["error"].get("err_code") == 10059:  # stream not found
            raise BucketNotFoundError
        raise RuntimeError(f"reading {stream} together: {created['error']}")
    name = created["name"]
    pending = int(created.get("num_pending", 0))
    try:
        return await _pull(nc, stream, name, pending) if pending else {}
    finally:
        delete = asyncio.ensure_future(
            nc.request(f"$JS.API.CONSUMER.DELETE.{stream}.{name}", b"", timeout=TIMEOUT)
        )
        _deletes.add(delete)
        delete.add_done_callback(_deleted)


async def _pull(
    nc: NATS, stream: str, consumer: str, pending: int
) -> dict[str, tuple[dict[str, str], bytes]]:
    found: dict[str, tuple[dict[str, str], bytes]] = {}
    read = 0
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        next_request = json.dumps({"batch": pending, "no_wait": True}).encode()
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", next_request, inbox)
        while read < pending:
            msg = await sub.next_msg(timeout=TIMEOUT)
            headers = msg.headers or {}
            status = headers.get("Status")
            if status is None:
                found[msg.subject] = (headers, msg.data)
                read += 1
                continue
            # Fewer than counted: an end only if the messages counted were deleted since
            # (none left, none delivered elsewhere); a consumer deleted, a leader changed, a
            # message taken by another pull: an error, never a part that looks whole.
            if status in _ENDED and await _drained(nc, stream, consumer, read):
                break
            description = headers.get("Description", "")
            raise PartialRead(
                f"reading {stream} together: {status} {description} after {read} of {pending}"
            )
    finally:
        await sub.unsubscribe()
    return found


async def _drained(nc: NATS, stream: str, consumer: str, read: int) -> bool:
    """Whether the consumer has nothing left and delivered nothing but the `read` messages."""
    msg = await nc.request(f"$JS.API.CONSUMER.INFO.{stream}.{consumer}", b"", timeout=TIMEOUT)
    info = json.loads(msg.data)
    if "error" in info:
        return False
    delivered = int(info.get("delivered", {}).get("consumer_seq", -1))
    return int(info.get("num_pending", -1)) == 0 and delivered == read


_deletes: set[asyncio.Future[Any]] = set()


def _deleted(done: asyncio.Future[Any]) -> None:
    _deletes.discard(done)
    if not done.cancelled():
        done.exception()  # a lost delete is harmless: the consumer expires by itself
