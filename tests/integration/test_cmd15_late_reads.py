"""Answers the server sent in time are not lost to a busy event loop, beyond `inbox.Replies`.

suite14 mended a request's timer (CI51): on a loop whose turns take seconds, a timer can fall
due in the same turn as the socket read that brought its answer, before the connection's
reader parses it. The event store's history read (`EventStore._direct_batch`: "nothing came"
by the clock) and the processed-command record's lookups and writes (`processed.DirectLookups`,
`processed.RecordWrites`) had timers of the same kind; they now ask for a PONG before they
decide that nothing came.

Here the server's answer is held back by a proxy between the client and the server, then let
go into the client's socket while the loop is held (a synchronous wait, as a long turn is)
past the timer: the loop's next turn finds the answer readable and the timer due together.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import nats
import nats.errors
import pytest
from nats.aio.client import Client as NATS

from contracts_schema.subjects import BoundedContext
from eventstore import store as store_module
from eventstore.clock import SystemClock
from eventstore.processed import KeyValueProcessedCommands
from eventstore.store import CommandMetadata, EventStore, NewEvent
from eventstore.testing.nats_server import NatsServer

TIMEOUT = 0.3
CTX = BoundedContext("ledger", "LEDGER")
WHEN = datetime(2020, 11, 13, tzinfo=UTC)


class HeldProxy:
    """One client's TCP connection to the server, passed through a thread; what the server
    sends can be held back (`hold`) and let go into the client's socket at once (`let_go`)."""

    def __init__(self, upstream_port: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"nats://127.0.0.1:{self._listener.getsockname()[1]}"
        self._upstream = upstream_port
        self._lock = threading.Lock()
        self._holding = False
        self._held = bytearray()
        self._sent = bytearray()  # what the client sent since `hold`
        self._client: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client, _ = self._listener.accept()
        server = socket.create_connection(("127.0.0.1", self._upstream))
        self._client = client
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    with self._lock:
                        if end is client:
                            server.sendall(data)
                            if self._holding:
                                self._sent += data
                        elif self._holding:
                            self._held += data
                        else:
                            client.sendall(data)
        finally:
            client.close()
            server.close()

    def hold(self) -> None:
        with self._lock:
            self._holding = True
            self._held.clear()
            self._sent.clear()

    def sent(self, part: bytes) -> bool:
        with self._lock:
            return part in self._sent

    def wait_held(self, part: bytes, deadline: float = 30.0) -> None:
        """Until `part` is among the bytes held back (blocking: the caller's loop stands)."""
        end = time.monotonic() + deadline
        while True:
            with self._lock:
                if part in self._held:
                    return
            assert time.monotonic() < end, f"the server never sent {part!r}"
            time.sleep(0.005)

    def let_go(self) -> None:
        """What was held, into the client's socket now; nothing held from here on."""
        with self._lock:
            assert self._client is not None
            self._client.sendall(bytes(self._held))
            self._held.clear()
            self._holding = False

    def __enter__(self) -> HeldProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            if self._holding:
                self.let_go()
        self._stopping.set()
        self._listener.close()
        self._thread.join(30)


@pytest.fixture
def proxy(nats_server: NatsServer) -> Iterator[HeldProxy]:
    with HeldProxy(nats_server.port) as started:
        yield started


@pytest.fixture
async def proxied(proxy: HeldProxy) -> AsyncIterator[NATS]:
    # One connection through the proxy, none again: the proxy takes one.
    nc = await nats.connect(proxy.url, max_reconnect_attempts=0, connect_timeout=2)
    yield nc
    await nc.close()


async def _until_sent(proxy: HeldProxy, part: bytes) -> None:
    """The loop turns (its flusher writes the request) until the request has left."""
    for _ in range(30_000):
        if proxy.sent(part):
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{part!r} was never sent")


def _held_past_timer(proxy: HeldProxy, answer: bytes, started: float) -> None:
    """One long loop turn: the answer reaches the client's socket and the timer (armed at
    `started` or after) falls due before the loop reads anything. Held no longer than that:
    a timer that fell due early waits for its PONG at most LATE_REPLY_GRACE, by the clock."""
    proxy.wait_held(answer)
    proxy.let_go()
    time.sleep(max(0.0, started + TIMEOUT + 0.1 - time.monotonic()))


async def _history(nc: NATS) -> EventStore:
    store = EventStore(nc, SystemClock())
    await store.ensure_stream(CTX)
    history = await store.load(CTX, "ledger", "late")
    meta = CommandMetadata(command_id="late-1", actor="test", correlation_id="late-1")
    await store.append(history, [NewEvent("EntryRecorded", 1, {"amount": 7}, WHEN)], meta)
    return store


async def test_a_history_that_came_in_time_is_read_though_the_timer_fell_due_first(
    proxy: HeldProxy, proxied: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _history(proxied)
    monkeypatch.setattr(store_module, "PUBLISH_TIMEOUT", TIMEOUT)
    proxy.hold()
    started = time.monotonic()
    loading = asyncio.ensure_future(store.load(CTX, "ledger", "late"))
    await _until_sent(proxy, b"DIRECT.GET")
    _held_past_timer(proxy, b"NATS/1.0 204", started)  # the batch's end marker

    history = await loading
    assert [e.envelope.payload["amount"] for e in history.events] == [7]


async def test_a_history_that_never_comes_still_fails(
    proxy: HeldProxy, proxied: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _history(proxied)
    monkeypatch.setattr(store_module, "PUBLISH_TIMEOUT", TIMEOUT)
    proxy.hold()  # for good: neither the answer nor the PONG comes
    with pytest.raises(nats.errors.TimeoutError):
        await store.load(CTX, "ledger", "late")


async def test_a_lookup_answered_in_time_is_read_though_the_timer_fell_due_first(
    proxy: HeldProxy, proxied: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(proxied, CTX)
    await record.put("cmd-late", b"recorded-reply")
    proxy.hold()
    started = time.monotonic()
    found = record.lookup("cmd-late", TIMEOUT)
    await _until_sent(proxy, b"DIRECT.GET")
    _held_past_timer(proxy, b"recorded-reply", started)

    assert await found == b"recorded-reply"


async def test_a_lookup_never_answered_still_fails(proxy: HeldProxy, proxied: NATS) -> None:
    record = await KeyValueProcessedCommands.open(proxied, CTX)
    proxy.hold()
    with pytest.raises(nats.errors.TimeoutError):
        await record.lookup("cmd-never", TIMEOUT)


async def test_a_record_write_acknowledged_in_time_is_not_failed_by_its_timer(
    proxy: HeldProxy, proxied: NATS
) -> None:
    record = await KeyValueProcessedCommands.open(proxied, CTX)
    await record.put("warm", b"x")  # the bucket's stream answers from here on
    proxy.hold()
    started = time.monotonic()
    written = await record.send("cmd-acked", b"reply", TIMEOUT)
    await _until_sent(proxy, b"cmd-acked")
    _held_past_timer(proxy, b'"seq"', started)  # the stream's acknowledgement

    await written
    assert record.settled == 1
