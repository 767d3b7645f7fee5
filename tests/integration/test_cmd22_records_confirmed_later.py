"""A command's processed-command record confirmed by a later write's acknowledgement (cmd22,
`processed.RecordWrites.send_later`): one message fewer a command on the broker and on the
service's connection, every record still stored and waited for, on a real NATS server with
JetStream.

The record is published without a reply subject; the stream answers a later publish of the
same connection to the same bucket (the next acknowledged write, or a barrier it refuses
unstored) only after it took every message sent before, so that answer confirms the earlier
records. The window this opens: a record written in one life of the connection and "covered"
in the next (a reconnect between: the record may never have reached the server). Such a
record is written again (`put`, acknowledged by itself), never taken as stored."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
from collections.abc import Iterator

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.replies import CommandAccepted
from eventstore import processed
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.flushing import flushed
from eventstore.inbox import subscribe_sink
from eventstore.processed import MIRROR_BARRIER_KEY, KeyValueProcessedCommands
from eventstore.records import CommandMetadata
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries

BUCKET = "$KV.processed-commands-ledger."


def entries(n: int) -> tuple[RecordEntries, CommandMetadata]:
    command = RecordEntries(command_id=f"c-{n}", ledger_id="l", amounts=[n + 1])
    return command, CommandMetadata(f"c-{n}", "t", f"c-{n}")


async def service(nc: NATS, clock: FixedClock) -> tuple[CommandService, KeyValueProcessedCommands]:
    records = await KeyValueProcessedCommands.open(nc, LEDGER)
    svc = CommandService(
        LEDGER, EventStore(nc, clock), clock, ROUTES, EVENT_TYPES, processed=records
    )
    await svc.start()
    return svc, records


async def test_records_of_a_run_of_commands_are_confirmed_by_one_answer(
    nats_server: NatsServer,
    nats_client: NATS,
    fixed_clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten commands one after another: the first record is acknowledged by itself (the
    acknowledgements' inbox is subscribed then), the nine after it carry no reply subject
    and are confirmed together by the barrier `drain` sends; all ten stored, each settled
    once, a resend answered from its record as a duplicate."""
    monkeypatch.setattr(
        processed, "COVER_AFTER", 3600.0, raising=False
    )  # (by count here, never by time)
    spy = await connect(nats_server.url)
    seen: list[tuple[str, str]] = []

    def keep(msg: Msg) -> None:
        seen.append((msg.subject[len(BUCKET) :], msg.reply))

    await subscribe_sink(spy, BUCKET + ">", keep)  # every message as read, in order
    await flushed(spy)
    try:
        svc, records = await service(nats_client, fixed_clock)
        route = svc.route("RecordEntries")
        for n in range(10):
            reply = await svc.execute(route, *entries(n))
            assert isinstance(reply, CommandAccepted)
            assert not reply.duplicate
        await svc.drain()
        await flushed(nats_client)
        await flushed(spy)

        written = [(key, reply) for key, reply in seen if key != MIRROR_BARRIER_KEY]
        assert [key for key, _reply in written] == [f"c-{n}" for n in range(10)]
        assert [bool(reply) for _key, reply in written] == [True] + [False] * 9
        covers = [reply for key, reply in seen if key == MIRROR_BARRIER_KEY]
        assert len(covers) == 1  # one barrier,
        assert covers[0]  # answered to us
        assert records.settled == 10
        assert not any(svc.is_pending(f"c-{n}") for n in range(10))
        for n in range(10):
            assert await records.get(f"c-{n}") is not None

        again = await svc.execute(route, *entries(5))
        assert isinstance(again, CommandAccepted)
        assert again.duplicate
    finally:
        await spy.close()


class CuttingProxy:
    """Client connections to the server, each passed through a thread; `cut` closes every
    one of them at once (the client reconnects through the proxy: a new life)."""

    def __init__(self, upstream_port: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"nats://127.0.0.1:{self._listener.getsockname()[1]}"
        self._upstream = upstream_port
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            server = socket.create_connection(("127.0.0.1", self._upstream))
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self._pass, args=(client, server), daemon=True).start()

    def _pass(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while not self._stopping.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (server if end is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def cut(self) -> None:
        with self._lock:
            for end in self._open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.cut()
        self._listener.close()
        self._thread.join(30)


@pytest.fixture
def proxy(nats_server: NatsServer) -> Iterator[CuttingProxy]:
    with CuttingProxy(nats_server.port) as started:
        yield started


class LosingRecords(NATS):
    """Loses the next processed-command record published without a reply subject, as a
    connection that died with it unsent loses it (the server never reads it)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next = False
        self.lost: list[str] = []

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        if self.lose_next and subject.startswith(BUCKET) and not reply:
            self.lose_next = False
            self.lost.append(subject[len(BUCKET) :])
            return
        await super().publish(subject, payload, reply, headers)


async def test_a_record_written_before_a_reconnect_is_written_again(
    proxy: CuttingProxy,
    nats_server: NatsServer,
    fixed_clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record published without its own acknowledgement, lost with the connection (it never
    reached the server), then a reconnect: the barrier that covers it answers in the new life
    of the connection, which says nothing of the old one's messages. The record is written
    again (acknowledged by itself) instead of being taken as stored: after `drain` it is
    stored, and a resend of its command on the same aggregate and a reuse of its id on
    another are answered from it."""
    monkeypatch.setattr(processed, "COVER_AFTER", 3600.0, raising=False)
    nc = LosingRecords()
    await nc.connect(
        proxy.url, connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=0.1
    )
    try:
        svc, _records = await service(nc, fixed_clock)
        route = svc.route("RecordEntries")
        assert isinstance(await svc.execute(route, *entries(0)), CommandAccepted)  # acked
        nc.lose_next = True
        lost = await svc.execute(route, *entries(1))
        assert isinstance(lost, CommandAccepted)
        assert not lost.duplicate
        assert nc.lost == ["c-1"]

        reconnects = nc.stats["reconnects"]
        proxy.cut()
        for _ in range(600):  # (bounds a hang: a reconnect through the proxy)
            if nc.stats["reconnects"] > reconnects and nc.is_connected:
                break
            await asyncio.sleep(0.05)
        assert nc.is_connected

        await svc.drain()
        reader = await connect(nats_server.url)
        try:
            stored = await KeyValueProcessedCommands.open(reader, LEDGER)
            assert await stored.get("c-1") is not None  # written again, not taken as stored
        finally:
            await reader.close()
        again = await svc.execute(route, *entries(1))
        assert isinstance(again, CommandAccepted)
        assert again.duplicate
        assert again.events == lost.events
        reused = RecordEntries(command_id="c-1", ledger_id="other", amounts=[7])
        refused = await svc.execute(route, reused, CommandMetadata("c-1", "t", "c-1"))
        assert refused.status == "rejected"
        assert refused.code == "COMMAND_ID_REUSED"
    finally:
        await nc.close()
