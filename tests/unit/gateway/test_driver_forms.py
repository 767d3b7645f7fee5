"""Kept statements on SQLite run as driver forms only where SQLAlchemy's internals they read
are as expected (checked once at the start), and on the event loop only with an idle pooled
connection; otherwise SQLAlchemy's own execution, in a thread, with the same rows."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, event, select
from sqlalchemy.sql.compiler import SQLCompiler

from eventstore.sql import make_engine
from gateway import readmodels
from gateway.readmodels import ReadModels, driver_forms_unavailable


@pytest.fixture
def verdict() -> Iterator[None]:
    """The process's check is redone after each test (a test may leave a failing one)."""
    yield
    driver_forms_unavailable(again=True)


def _read_models(path: Path) -> tuple[ReadModels, Any]:
    engine = make_engine(f"sqlite:///{path}")
    things = Table(
        "things", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
    )
    things.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": i, "name": f"n{i}"} for i in range(5)])
    read = ReadModels(engine)
    read.driver_reads = True  # as a compiled plan's request sets it

    def build() -> Any:
        return select(things.c.name).where(things.c.id.in_(bindparam("ids", expanding=True)))

    return read, read.statement(("names", things), build)


async def _names(read: ReadModels, statement: Any, ids: list[int]) -> list[str]:
    return sorted(r["name"] for r in await read.rows(statement, {"ids": ids}))


def test_the_installed_sqlalchemy_passes_the_check() -> None:
    assert driver_forms_unavailable(again=True) is None


def test_a_missing_internal_is_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, verdict: None
) -> None:
    monkeypatch.delattr(SQLCompiler, "_bind_processors")  # as a SQLAlchemy without it
    with caplog.at_level(logging.WARNING, logger="gateway.readmodels"):
        reason = driver_forms_unavailable(again=True)
    assert reason is not None
    assert "_bind_processors" in reason
    assert "not as driver forms" in caplog.text
    assert "_bind_processors" in caplog.text


async def test_without_driver_forms_kept_statements_run_through_sqlalchemy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdict: None
) -> None:
    with monkeypatch.context() as patched:
        patched.delattr(SQLCompiler, "_bind_processors")
        assert driver_forms_unavailable(again=True) is not None
    read, statement = _read_models(tmp_path / "kept.db")  # SQLAlchemy whole again
    for ids in ([1], [2, 3], [0, 4]):
        assert await _names(read, statement, ids) == [f"n{i}" for i in ids]
    assert read.driven_statements == 0
    read.engine.dispose()


async def test_with_driver_forms_the_same_rows_and_the_loop_only_with_an_idle_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readmodels, "INLINE_BELOW", 60.0)  # every batch counts as quick
    assert driver_forms_unavailable(again=True) is None
    read, statement = _read_models(tmp_path / "kept.db")
    assert await _names(read, statement, [1]) == ["n1"]  # learned through SQLAlchemy
    assert read.driven_statements == 0
    assert await _names(read, statement, [2, 3]) == ["n2", "n3"]  # a driver form, thread
    assert read.driven_statements == 1
    assert read.batches_on_the_loop == 0
    assert await _names(read, statement, [0, 4]) == ["n0", "n4"]  # quick: on the loop
    assert read.batches_on_the_loop == 1
    held = [read.engine.raw_connection() for _ in range(read.engine.pool.checkedin())]
    try:
        # no idle connection: the batch takes the thread (opening or waiting is not the
        # loop's), with the same rows
        assert await _names(read, statement, [1, 2]) == ["n1", "n2"]
        assert read.batches_on_the_loop == 1
        assert read.driven_statements == 3
    finally:
        for connection in held:
            connection.close()
    assert await _names(read, statement, [3]) == ["n3"]
    assert read.batches_on_the_loop == 2
    read.engine.dispose()


async def test_the_loop_never_waits_for_the_pool_a_thread_is_using(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle connection is looked for and taken in one step under the pool's own lock, and
    that lock is only tried: a thread mid checkout (holding it) sends the batch to a thread,
    where a thread taking the idle connection first would have had the loop open one or wait.
    With the two steps apart, the loop waited here on the held lock (the test hung)."""
    monkeypatch.setattr(readmodels, "INLINE_BELOW", 60.0)  # every batch counts as quick
    assert driver_forms_unavailable(again=True) is None
    read, statement = _read_models(tmp_path / "kept.db")
    loop_thread = threading.get_ident()
    opened_on_the_loop: list[int] = []

    @event.listens_for(read.engine, "connect")
    def _opened(*_: Any) -> None:
        if threading.get_ident() == loop_thread:
            opened_on_the_loop.append(1)

    assert await _names(read, statement, [1]) == ["n1"]  # learned, in a thread
    assert await _names(read, statement, [2]) == ["n2"]  # a driver form, in a thread
    assert await _names(read, statement, [3]) == ["n3"]  # on the loop
    assert read.batches_on_the_loop == 1
    lock = read.engine.pool._pool.mutex  # type: ignore[attr-defined]
    holding, release = threading.Event(), threading.Event()

    def mid_checkout() -> None:
        with lock:
            holding.set()
            release.wait()

    holder = threading.Thread(target=mid_checkout)
    holder.start()
    holding.wait()
    try:
        asked = asyncio.ensure_future(_names(read, statement, [0, 4]))
        driven = read.driven_statements
        for _ in range(10_000):  # the loop runs on, until a thread has the batch
            if read.driven_statements > driven:
                break
            await asyncio.sleep(0)
        assert read.driven_statements > driven
    finally:
        release.set()
        holder.join()
    assert await asked == ["n0", "n4"]
    assert read.batches_on_the_loop == 1
    assert await _names(read, statement, [1, 2]) == ["n1", "n2"]  # the lock free: the loop
    assert read.batches_on_the_loop == 2
    assert opened_on_the_loop == []
    read.engine.dispose()


async def test_a_checkout_that_fails_on_the_loop_is_answered_not_left_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle connection's checkout on the loop fails (a stale connection whose reconnect's
    PRAGMAs fail): the batch goes to a thread, and its waiters hear that thread's error."""
    monkeypatch.setattr(readmodels, "INLINE_BELOW", 60.0)
    read, statement = _read_models(tmp_path / "kept.db")
    for n in (1, 2, 3):
        assert await _names(read, statement, [n]) == [f"n{n}"]
    assert read.batches_on_the_loop == 1

    @event.listens_for(read.engine, "checkout")
    def _fail(*_: Any) -> None:
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="database is locked"):
        await asyncio.wait_for(_names(read, statement, [4]), 10)


async def test_an_idle_connection_that_would_reconnect_is_not_taken_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalidated pooled connection reconnects at its next checkout (its PRAGMAs may wait
    on a lock for the busy timeout): that checkout happens in a thread, never on the loop."""
    monkeypatch.setattr(readmodels, "INLINE_BELOW", 60.0)  # every batch counts as quick
    assert driver_forms_unavailable(again=True) is None
    read, statement = _read_models(tmp_path / "kept.db")
    loop_thread = threading.get_ident()
    opened: list[bool] = []

    @event.listens_for(read.engine, "connect")
    def _opened(*_: Any) -> None:
        opened.append(threading.get_ident() == loop_thread)

    for n in (1, 2, 3):
        assert await _names(read, statement, [n]) == [f"n{n}"]
    assert read.batches_on_the_loop == 1
    assert read.engine.pool.checkedin() == 1
    stale = read.engine.raw_connection()
    stale.invalidate()  # back in the pool without a connection: the next checkout reconnects
    stale.close()
    opened.clear()
    assert await _names(read, statement, [0, 4]) == ["n0", "n4"]
    assert read.batches_on_the_loop == 1  # the thread took it
    assert opened == [False]  # reconnected once, in the thread
    assert await _names(read, statement, [2]) == ["n2"]  # open again: the loop
    assert read.batches_on_the_loop == 2
    read.engine.dispose()


async def test_after_the_pool_is_invalidated_as_a_whole_no_reconnect_runs_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disconnect error invalidates the whole pool: every idle record reconnects at its
    next checkout, though it still holds its (stale) connection (review10)."""
    monkeypatch.setattr(readmodels, "INLINE_BELOW", 60.0)
    assert driver_forms_unavailable(again=True) is None
    read, statement = _read_models(tmp_path / "kept.db")
    loop_thread = threading.get_ident()
    opened: list[bool] = []

    @event.listens_for(read.engine, "connect")
    def _opened(*_: Any) -> None:
        opened.append(threading.get_ident() == loop_thread)

    for n in (1, 2, 3):
        assert await _names(read, statement, [n]) == [f"n{n}"]
    assert read.batches_on_the_loop == 1
    pool = read.engine.pool
    pool._invalidate_time = time.time() + 1  # type: ignore[attr-defined]  # as _invalidate() sets it
    opened.clear()
    assert await _names(read, statement, [0, 4]) == ["n0", "n4"]
    assert read.batches_on_the_loop == 1
    assert opened == [False]
    read.engine.dispose()
