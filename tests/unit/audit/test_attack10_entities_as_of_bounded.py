"""attack10: `entitiesAsOf(first: N)` reads N entities, not every one of the type.

The field sliced its answer after `list_as_of` had read and JSON-decoded every row version of
the type valid at (D, K): each `entitiesAsOf(aggregateType: "enrolment_window", first: 1)`
over a national history decoded every window's state, and an auditor's or coordinator's
client asking it in a loop held a read-model connection and a thread for all of them. Now the
query itself takes the first N by id (the versions' primary key starts with type and id)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from sqlalchemy import MetaData, insert

import audit.temporal
from audit.graphql import AuditQuery, AuditSources
from audit.temporal import TemporalProjection
from eventstore.sql import make_engine

SCHEMA = strawberry.Schema(query=AuditQuery)
ENTITIES = 300


@dataclass
class Context:
    audit: AuditSources


async def test_entities_as_of_decodes_only_the_rows_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    projection, metadata = TemporalProjection(), MetaData()
    projection.define(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(projection.versions),
            [
                {
                    "aggregate_type": "tender",
                    "aggregate_id": f"t-{i:04d}",
                    "known_from": "2020-01-01T00:00:00.000000",
                    "valid_from": "2020-01-01T00:00:00.000000",
                    "known_to": None,
                    "valid_to": None,
                    "state": json.dumps({"tender_id": f"t-{i:04d}"}),
                }
                for i in range(ENTITIES)
            ],
        )
    decoded: list[str] = []

    def loads(text: str, **kwargs: Any) -> Any:
        decoded.append(text)
        return json.loads(text, **kwargs)

    monkeypatch.setattr(audit.temporal, "json", SimpleNamespace(loads=loads, dumps=json.dumps))
    context = Context(AuditSources(store=None, engine=engine))  # type: ignore[arg-type]
    result = await SCHEMA.execute(
        '{ entitiesAsOf(aggregateType: "tender", first: 2) { aggregateId state } }',
        context_value=context,
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    assert [e["aggregateId"] for e in result.data["entitiesAsOf"]] == ["t-0000", "t-0001"]
    assert len(decoded) == 2, f"decoded {len(decoded)} states to answer 2"
    engine.dispose()
