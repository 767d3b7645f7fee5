"""The last message of many subjects of a stream at once (many keys of a key-value bucket,
many aggregates of an event stream), read by one ephemeral consumer: a group commit's
lookups in a request or two instead of one request each."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError

TIMEOUT = 5.0  # seconds, for each request


async def last_messages(
    nc: NATS, stream: str, subjects: list[str]
) -> dict[str, tuple[dict[str, str], bytes]]:
    """The last message (headers, data) of each subject matching `subjects` (filters; a
    wildcard gives each of its subjects' last), by the subject it was stored on: one ephemeral
    consumer, one request when nothing matches (its answer counts none pending), instead of a
    request per subject. Raises `BucketNotFoundError` (a `NotFoundError`) when the stream
    does not exist."""
    config = {
        "deliver_policy": "last_per_subject",
        "ack_policy": "none",
        "replay_policy": "instant",
        "filter_subjects": subjects,
        "mem_storage": True,
        "num_replicas": 1,
        "inactive_threshold": 10_000_000_000,  # ns: gone by itself if the delete is lost
    }
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
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        next_request = json.dumps({"batch": pending, "no_wait": True}).encode()
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", next_request, inbox)
        for _ in range(pending):
            msg = await sub.next_msg(timeout=TIMEOUT)
            headers = msg.headers or {}
            if "Status" in headers:  # no more messages (fewer than counted: deleted since)
                break
            found[msg.subject] = (headers, msg.data)
    finally:
        await sub.unsubscribe()
    return found


_deletes: set[asyncio.Future[Any]] = set()


def _deleted(done: asyncio.Future[Any]) -> None:
    _deletes.discard(done)
    if not done.cancelled():
        done.exception()  # a lost delete is harmless: the consumer expires by itself
