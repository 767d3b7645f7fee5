"""Many subjects' last messages read together (`eventstore.last_messages`), on a real
JetStream server: an answer is whole or an error, never a part that looks whole; headers only
when only existence is asked; any number of subjects (a consumer per thousand)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.subjects import REGISTRY
from eventstore.last_messages import PartialRead, last_messages
from eventstore.processed import KeyValueProcessedCommands, last_values

BUCKET = "processed-commands-registry"
STREAM, PREFIX = f"KV_{BUCKET}", f"$KV.{BUCKET}."


class Interposed:
    """The reader's own connection, with something done on the server just before the reader
    pulls from its consumer (as another client would, between its two requests)."""

    def __init__(self, nc: NATS, before_pull: Any) -> None:
        self._nc = nc
        self._before_pull = before_pull

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(self, subject: str, payload: bytes = b"", reply: str = "", **kw: Any) -> None:
        if subject.startswith("$JS.API.CONSUMER.MSG.NEXT."):
            await self._before_pull(self._nc, subject)
        await self._nc.publish(subject, payload, reply, **kw)


async def take_one(nc: NATS, next_subject: str) -> None:
    """Another pull on the same consumer takes one of its messages."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(next_subject, json.dumps({"batch": 1, "no_wait": True}).encode(), inbox)
    taken = await sub.next_msg(timeout=30)
    assert "Status" not in (taken.headers or {})
    await sub.unsubscribe()


async def recorded(nc: NATS, keys: list[str]) -> KeyValueProcessedCommands:
    record = await KeyValueProcessedCommands.open(nc, REGISTRY)
    for key in keys:
        await record.put(key, f"value of {key}".encode())
    return record


async def test_a_read_short_of_what_it_counted_raises_rather_than_look_whole(
    nats_client: NATS,
) -> None:
    keys = ["a-1", "b-2", "c-3"]
    record = await recorded(nats_client, keys)
    assert await record.get_many(keys) == {k: f"value of {k}".encode() for k in keys}
    robbed: Any = Interposed(nats_client, take_one)
    with pytest.raises(PartialRead, match="after 2 of 3"):
        await last_values(robbed, STREAM, PREFIX, keys)


async def stream_of(nc: NATS, keys: str) -> None:
    js = nc.jetstream()
    await js.add_stream(name="LAST", subjects=["last.>"])
    for key in keys:
        await js.publish(f"last.{key}", f"value of {key}".encode())


def deleting(nc: NATS, subject: str) -> Any:
    """The connection, with `subject`'s message deleted between the count and the read."""

    async def delete(nc: NATS, _next: str) -> None:
        js = nc.jetstream()
        await js.delete_msg("LAST", (await js.get_last_msg("LAST", subject)).seq)

    return Interposed(nc, delete)


async def test_a_message_deleted_since_it_was_counted_ends_the_read_quietly(
    nats_client: NATS,
) -> None:
    await stream_of(nats_client, "abc")
    found = await last_messages(deleting(nats_client, "last.c"), "LAST", ["last.>"])
    assert {s: data for s, (_h, data) in found.items()} == {
        "last.a": b"value of a",
        "last.b": b"value of b",
    }


async def test_no_answer_leaves_out_a_subject_that_has_a_message(nats_client: NATS) -> None:
    # With one deleted before others, the server ends the pull early ("404 No Messages")
    # though `last.c` is still pending: that is an error, not an answer without `last.c`.
    await stream_of(nats_client, "abc")
    try:
        found = await last_messages(deleting(nats_client, "last.b"), "LAST", ["last.>"])
    except PartialRead:
        return  # the caller then reads each subject alone
    assert sorted(found) == ["last.a", "last.c"]


async def test_headers_only_says_which_subjects_have_a_message_without_its_data(
    nats_client: NATS,
) -> None:
    await recorded(nats_client, ["a-1", "b-2"])
    subjects = [PREFIX + k for k in ("a-1", "b-2", "none-3")]
    whole = await last_messages(nats_client, STREAM, subjects)
    heads = await last_messages(nats_client, STREAM, subjects, headers_only=True)
    assert sorted(heads) == sorted(whole) == [PREFIX + "a-1", PREFIX + "b-2"]
    assert {s: data for s, (_h, data) in whole.items()} == {
        PREFIX + "a-1": b"value of a-1",
        PREFIX + "b-2": b"value of b-2",
    }
    assert all(data == b"" for _h, data in heads.values())
    assert heads[PREFIX + "a-1"][0]["Nats-Msg-Size"] == str(len(b"value of a-1"))


async def test_any_number_of_subjects_is_read_whole(nats_client: NATS) -> None:
    keys = [f"k-{n:04d}" for n in range(2_500)]
    record = await recorded(nats_client, keys[::2])
    subjects = [PREFIX + k for k in keys]
    found = await last_messages(nats_client, STREAM, subjects, headers_only=True)
    assert sorted(found) == [PREFIX + k for k in keys[::2]]
    assert await record.get_many(keys) == {k: f"value of {k}".encode() for k in keys[::2]}
