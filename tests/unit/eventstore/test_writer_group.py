"""The group commit of live awaited read models (`eventstore.projection.WriterGroup`): the
writes that wait for the SQLite writer together commit in one transaction, and one piece's
failure stays its own (a database failure is every piece's). Counts, not times."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from eventstore.projection import WriterGroup, writer_group, writer_turn
from eventstore.sql import make_engine

metadata = MetaData()
rows = Table("rows", metadata, Column("n", Integer, primary_key=True))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'group.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def commits(engine: Engine) -> list[int]:
    counted: list[int] = []
    event.listen(engine, "commit", lambda _conn: counted.append(1))
    return counted


def insert(n: int, then: Callable[[Connection], object] | None = None) -> Callable[..., int]:
    def work(conn: Connection) -> int:
        conn.execute(rows.insert().values(n=n))
        if then is not None:
            then(conn)
        return n

    return work


def stored(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(rows.c.n)).scalars())


def run_together(
    engine: Engine, works: list[Callable[[Connection], int]]
) -> list[int | BaseException]:
    """Each work in a thread of its own, all asked while the writer turn is held elsewhere,
    so that they wait together; the turn is released once all of them joined."""
    group = writer_group(engine)
    turn = writer_turn(engine)
    assert group is not None and turn is not None
    outcomes: list[int | BaseException] = [0] * len(works)

    def one(i: int) -> None:
        try:
            outcomes[i] = group.run(works[i])
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(works))]
    with turn:  # another read model's transaction under way
        for thread in threads:
            thread.start()
        while group.waiting() < len(works):  # a condition, not a time: all have joined
            time.sleep(0.001)
    for thread in threads:
        thread.join()
    return outcomes


def test_writes_that_wait_together_commit_in_one_transaction(engine: Engine) -> None:
    counted = commits(engine)
    outcomes = run_together(engine, [insert(n) for n in range(4)])
    assert outcomes == [0, 1, 2, 3]
    assert stored(engine) == {0, 1, 2, 3}
    assert len(counted) == 1
    group = writer_group(engine)
    assert isinstance(group, WriterGroup) and group.transactions == 1


def test_a_piece_that_raises_is_rolled_back_alone(engine: Engine) -> None:
    def refuse(_conn: Connection) -> None:
        raise ValueError("this read model cannot apply it")

    outcomes = run_together(engine, [insert(0), insert(1, then=refuse), insert(2)])
    assert outcomes[0] == 0 and outcomes[2] == 2
    assert isinstance(outcomes[1], ValueError)
    assert stored(engine) == {0, 2}


def test_a_database_failure_fails_every_piece_and_commits_none(engine: Engine) -> None:
    def broken(conn: Connection) -> None:
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    outcomes = run_together(engine, [insert(0), insert(1, then=broken), insert(2)])
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert stored(engine) == set()
    # The next writes form a new group and commit.
    assert run_together(engine, [insert(5)]) == [5]
    assert stored(engine) == {5}


def test_one_alone_commits_at_once(engine: Engine) -> None:
    group = writer_group(engine)
    assert group is not None
    assert group.run(insert(7)) == 7
    assert stored(engine) == {7}
