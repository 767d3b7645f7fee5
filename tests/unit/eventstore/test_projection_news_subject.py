"""The announcement subject names the read model and the database, never the login: the
projector (writer role) and the gateway (reader role) must meet on one subject."""

from __future__ import annotations

from sqlalchemy import create_engine

from eventstore.projection_news import subject


def _subject(url: str) -> str:
    return subject(create_engine(url), "contracts", "contracts_v4")


def test_the_writer_and_the_reader_of_one_database_meet_on_one_subject() -> None:
    writer = _subject("postgresql+psycopg://gt_projector:w@DB.internal:5432/gateway")
    reader = _subject("postgresql+psycopg://gt_reader:r@db.internal/gateway")
    assert writer == reader
    assert writer.startswith("gt.projections.contracts.")
    assert writer.endswith(".contracts_v4")


def test_another_database_or_server_is_another_subject() -> None:
    here = _subject("postgresql+psycopg://u@db/gateway")
    assert here != _subject("postgresql+psycopg://u@db/enrolment")
    assert here != _subject("postgresql+psycopg://u@db:5433/gateway")
    assert here != _subject("sqlite:////tmp/gateway.db")
