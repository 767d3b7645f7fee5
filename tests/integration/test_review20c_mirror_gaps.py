"""review20c: the record mirrors (`processed.RecordMirror`, cmd19/cmd20) across a gap in
their subscription. A subscription misses what is published while its connection is away
(a server restart, a network cut, the server closing a slow consumer's connection): the
records written meanwhile must still refuse their ids once the connection is back. The
service's connection here goes through a TCP proxy the test cuts and restores, so the
records are written, by another process's service and directly into another context's
bucket, exactly while it is away; real JetStream, commands over NATS as in cmd19's tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT
from eventstore import backup, processed
from eventstore.clock import FixedClock
from eventstore.processed import processed_bucket
from eventstore.testing.nats_server import NatsServer
from tests.integration.test_cmd19_record_mirror import BOUND, amounts, connect, handle, service_on
from tests.integration.test_cmd20_all_records_mirrored import (
    all_trusted,
    buckets,
    mirrors,
    record_of,
    warm_on,
)
from tests.support.ledger import RecordEntries

__all__ = ["connect"]  # (the fixture, taken from cmd19's tests)


class Proxy:
    """A TCP proxy to the NATS server that can be cut (every connection through it closed,
    new ones closed at once) and restored."""

    def __init__(self, host: str, port: int, server_log: Path) -> None:
        self._target = (host, port)
        self.server_log = server_log
        self._open = True
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.flowing = asyncio.Event()  # what the server sends reaches the client
        self.flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._pairs.append((writer, up_writer))
        for source, sink, gate in ((reader, up_writer, None), (up_reader, writer, self.flowing)):
            task = asyncio.ensure_future(self._pipe(source, sink, gate))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event | None
    ) -> None:
        with contextlib.suppress(Exception):
            while True:
                if gate is not None:
                    await gate.wait()  # (held: nothing read from the server meanwhile)
                data = await source.read(65536)
                if not data:
                    break
                sink.write(data)
                await sink.drain()
        sink.close()

    def server_said(self, words: bytes) -> bool:
        return words in self.server_log.read_bytes()

    def cut(self) -> None:
        self._open = False
        for a, b in self._pairs:
            a.close()
            b.close()
        self._pairs.clear()

    def restore(self) -> None:
        self._open = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
async def proxy(nats_server: NatsServer) -> AsyncIterator[Proxy]:
    host, port = nats_server.url.removeprefix("nats://").rsplit(":", 1)
    proxied = Proxy(host, int(port), nats_server.log_file)
    await proxied.start()
    yield proxied
    await proxied.close()


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.02)


async def test_records_written_while_a_process_was_disconnected_refuse_their_ids_after(
    connect: Callable[..., object], fixed_clock: FixedClock, proxy: Proxy
) -> None:
    """Process two's connection is cut; meanwhile process one accepts commands (its records
    written) and the enrolment service records ids in its own bucket; once two is back, each
    of those ids reused on a warm aggregate of two is refused, nothing appended. (Before the
    mirrors every id was looked up; with them, only a mirror that dropped its trust at the
    reconnect and reloaded holds these keys: its subscription never brought them.)"""
    other = await connect()  # type: ignore[misc]
    enrolment = (await buckets(other, ENROLMENT))["enrolment"]
    await enrolment.put("e-before", record_of(ENROLMENT, "e-before"))  # (the bucket exists)
    one = await all_trusted(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc: NATS = await nats.connect(proxy.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        two = await all_trusted(await service_on(two_nc, fixed_clock))
        await warm_on(one, "ga")
        await warm_on(two, "gb")
        await all_trusted(two)
        proxy.cut()
        await until(lambda: not two_nc.is_connected, "two's connection never noticed the cut")
        for n in range(5):  # written and acknowledged while two is away
            reply = await handle(
                one, RecordEntries(command_id=f"gap-{n}", ledger_id="ga", amounts=[1])
            )
            assert isinstance(reply, CommandAccepted)
            await enrolment.put(f"e-gap-{n}", record_of(ENROLMENT, f"e-gap-{n}"))
        proxy.restore()
        await until(lambda: two_nc.is_connected, "two never reconnected")
        await two_nc.flush(timeout=BOUND)  # (its subscriptions are back on the server)
        for n in range(5):
            for command_id in (f"gap-{n}", f"e-gap-{n}"):
                reused = await handle(
                    two, RecordEntries(command_id=command_id, ledger_id="gb", amounts=[7])
                )
                assert isinstance(reused, CommandRejected), command_id
                assert reused.code == "COMMAND_ID_REUSED", command_id
        assert await amounts(other, fixed_clock, "gb") == [1]
        # And the mirrors are trusted again once reloaded (the fast path comes back).
        await all_trusted(two)
    finally:
        await two_nc.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server that closes a slow consumer's connection soon (a write to it stalled 1 s;
    by default 10 s, or its outbound over 64 MB)."""
    config = tmp_path / "nats.conf"
    store = tmp_path / "jetstream"
    config.write_text(f'jetstream {{ store_dir: "{store}" }}\nwrite_deadline: "1s"\n')
    server = NatsServer(store, config_file=config).start()
    yield server
    server.stop()


async def test_records_a_slow_consumer_was_cut_off_from_refuse_their_ids_after(
    connect: Callable[..., object], fixed_clock: FixedClock, proxy: Proxy
) -> None:
    """Process two stops reading its connection (its process stalled: the proxy holds what
    the server sends); records flood its mirrors' subscriptions until the server closes it
    as a slow consumer (the server drops what it could not send); more are written after.
    Once two reads again and is back, each id is refused, nothing appended."""
    other = await connect()  # type: ignore[misc]
    enrolment = (await buckets(other, ENROLMENT))["enrolment"]
    await enrolment.put("e-before", record_of(ENROLMENT, "e-before"))
    one = await all_trusted(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    two_nc: NATS = await nats.connect(proxy.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        two = await all_trusted(await service_on(two_nc, fixed_clock))
        await warm_on(one, "sa")
        await warm_on(two, "sb")
        await all_trusted(two)
        proxy.flowing.clear()
        padding = b" " * 8_000
        flooded = 0
        while not await asyncio.to_thread(proxy.server_said, b"Slow Consumer"):
            assert flooded < 20_000, "the server never closed the slow consumer"
            value = record_of(ENROLMENT, f"flood-{flooded}")[:-1] + b', "pad": "' + padding
            await enrolment.put(f"flood-{flooded}", value + b'"}')
            flooded += 1
        late = []
        for n in range(5):  # after the server closed two's connection
            reply = await handle(
                one, RecordEntries(command_id=f"slow-{n}", ledger_id="sa", amounts=[1])
            )
            assert isinstance(reply, CommandAccepted)
            await enrolment.put(f"e-slow-{n}", record_of(ENROLMENT, f"e-slow-{n}"))
            late += [f"slow-{n}", f"e-slow-{n}"]
        proxy.flowing.set()  # two reads what was held, then finds its connection closed
        await until(lambda: two_nc.stats["reconnects"] >= 1, "two never reconnected")
        await until(lambda: two_nc.is_connected, "two never reconnected")
        await two_nc.flush(timeout=BOUND)
        for command_id in ("flood-0", f"flood-{flooded - 1}", *late):
            reused = await handle(
                two, RecordEntries(command_id=command_id, ledger_id="sb", amounts=[7])
            )
            assert isinstance(reused, CommandRejected), command_id
            assert reused.code == "COMMAND_ID_REUSED", command_id
        assert await amounts(other, fixed_clock, "sb") == [1]
    finally:
        await two_nc.close()


async def test_a_bucket_restored_from_a_backup_while_serving_refuses_its_ids(
    connect: Callable[..., object], fixed_clock: FixedClock, tmp_path: Path
) -> None:
    """The enrolment's bucket is lost (deleted) and restored from its backup while this
    service runs (`python -m bootstrap.serve backup restore` restores a stream only where it
    does not exist). A restore stores its records without publishing them, so no
    subscription brings them: once the service looks for the bucket again (every
    `MISSING_BUCKET_RECHECK` s), each restored id is refused, nothing appended -- as before
    the mirrors. **Fails on cmd20's merge**: the mirror, loaded while the bucket was missing,
    trusted itself empty ("a stream created later stores only what is routed after its
    creation": not a restored one), and every restored id was accepted for good."""
    other = await connect()  # type: ignore[misc]
    enrolment = (await buckets(other, ENROLMENT))["enrolment"]
    ids = [f"e-restored-{n}" for n in range(5)]
    for command_id in ids:
        await enrolment.put(command_id, record_of(ENROLMENT, command_id))
    stream = f"KV_{processed_bucket(ENROLMENT)}"
    saved = await backup.backup(other, tmp_path / "backup", [stream])
    await other.jetstream().delete_stream(stream)  # (lost)
    service = await all_trusted(await service_on(await connect(), fixed_clock))  # type: ignore[misc]
    await warm_on(service, "rb")
    await backup.restore_stream(other, tmp_path / "backup", saved[0])
    # Whatever the service looked up meanwhile is looked up again after this.
    await asyncio.sleep(processed.MISSING_BUCKET_RECHECK + 0.5)
    held = [m for m in mirrors(service) if processed_bucket(ENROLMENT) in m._prefix]
    for mirror in held:  # (where mirrors are kept: until it holds the restored keys)
        await until(
            lambda m=mirror: m.trusted() and all(m.knows(i) for i in ids),  # type: ignore[misc]
            "the restored keys were never held",
        )
    for command_id in ids:
        reused = await handle(
            service, RecordEntries(command_id=command_id, ledger_id="rb", amounts=[7])
        )
        assert isinstance(reused, CommandRejected), command_id
        assert reused.code == "COMMAND_ID_REUSED", command_id
    assert await amounts(other, fixed_clock, "rb") == [1]
