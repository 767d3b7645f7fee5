"""A group's messages written as protocol frames in one piece (`group_append._frames`) arrive
exactly as `nc.publish` of each delivers them; whatever is not plainly of that form goes
through `nc.publish` instead."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore.flushing import flushed
from eventstore.group_append import _frames, _queue

MESSAGES: list[tuple[str, str, bytes, dict[str, str] | None]] = [
    ("framed.a", "", b'{"x": "\xc3\xa9"}', {"Nats-Msg-Id": "registry:c-1:t-1:1", "K": ""}),
    ("framed.b.c", "", b"", {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
    ("framed.d", "reply.to.1", b"plain", None),
    ("framed.e", "", b"x" * 70_000, {"Nats-Batch-Sequence": "2"}),
]  # fmt: skip


async def _received(nc: NATS, send: object) -> list[tuple[str, str, bytes, dict[str, str]]]:
    got: list[Msg] = []
    all_in = asyncio.Event()

    async def note(msg: Msg) -> None:
        got.append(msg)
        if len(got) == len(MESSAGES):
            all_in.set()

    sub = await nc.subscribe("framed.>", cb=note)
    await flushed(nc)
    await send  # type: ignore[misc]
    await flushed(nc)
    await asyncio.wait_for(all_in.wait(), timeout=30)
    await sub.unsubscribe()
    return [(m.subject, m.reply, m.data, dict(m.headers or {})) for m in got]


async def test_frames_arrive_as_publish_delivers_them(nats_client: NATS) -> None:
    frames = _frames(nats_client, MESSAGES)
    assert frames is not None

    async def each() -> None:
        for subject, reply, payload, headers in MESSAGES:
            await nats_client.publish(subject, payload, reply=reply, headers=headers)

    by_publish = await _received(nats_client, each())
    by_frames = await _received(nats_client, _queue(nats_client, frames))
    assert by_frames == by_publish
    assert len(by_frames) == len(MESSAGES)


async def test_what_is_not_plainly_a_frame_goes_through_publish(nats_client: NATS) -> None:
    for odd in [
        ("framed.a b", "", b"", None),  # a space in the subject
        ("framed.a", "", b"", {"K": "line\r\nbreak"}),
        ("framed.a", "", b"", {"K": " padded"}),
        ("framed.a", "", b"", {"Bad:Name": "v"}),
        ("framed.é", "", b"", None),
        ("framed.a", "", b"x" * (nats_client.max_payload + 1), None),
    ]:
        assert _frames(nats_client, [MESSAGES[0], odd]) is None
