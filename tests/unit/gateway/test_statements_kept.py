"""Statements kept by shape answer each request with its own values and are rebuilt when
their tables change."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select

from eventstore.sql import make_engine
from gateway.readmodels import ReadModels


def _table(metadata: MetaData) -> Table:
    return Table(
        "things", metadata, Column("id", Integer, primary_key=True), Column("name", String)
    )


async def test_a_kept_statement_answers_with_each_requests_values(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.db'}")
    things = _table(MetaData())
    things.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(things.insert(), [{"id": i, "name": f"n{i}"} for i in range(5)])
    read = ReadModels(engine)
    built: list[int] = []

    def build() -> object:
        built.append(1)
        return select(things.c.name).where(things.c.id.in_(bindparam("ids", expanding=True)))

    answers = []
    for ids in ([1], [2, 3], [4], [0, 4]):
        statement = read.at_now().statement(("names", things), build)
        rows = await read.rows(statement, {"ids": ids})  # type: ignore[arg-type]
        answers.append(sorted(r["name"] for r in rows))
    assert answers == [["n1"], ["n2", "n3"], ["n4"], ["n0", "n4"]]
    assert len(built) == 1  # one statement for every request

    other = _table(MetaData())  # another version's table of the same name: built anew
    read.statement(("names", other), build)
    assert len(built) == 2
    engine.dispose()
