"""`health.parked` lists every read model's parked events, in whichever database it lives.

`make run` keeps the audit's history read model (`audit_history`, behind `entitiesAsOf`) in
a database of its own (`GT_AUDIT_DATABASE_URL`, `data/audit.db`). `health.projections` counted
its parked events (from its own database) and `health.ok` was false with "1 parked event(s):
see health.parked", but `health.parked` read the gateway's database only and was empty: an
operator was sent to a list that did not hold the event (correct20, seen on a `make run`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from audit.temporal import TemporalProjection
from eventstore.memory import InMemoryEventStore
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import ALL
from gateway.projections.event_log_history import fold_histories_from_the_event_log
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings
from tests.service.bus import InProcessBus
from tests.service.test_backdated_before_creation import planned

HEALTH = """{ health { ok problems projections { name parkedEvents }
  parked { projection eventType aggregate error } } }"""


async def test_the_parked_list_holds_what_every_projection_counts(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audit's history cannot apply one event (as a fold state it had no JSON form for).
    real = TemporalProjection.apply

    def refuse(self, conn, event):  # type: ignore[no-untyped-def]
        if event.envelope.aggregate_id == "t1":
            raise TypeError("no JSON form for Something")
        return real(self, conn, event)

    monkeypatch.setattr(TemporalProjection, "apply", refuse)
    engine = make_engine(f"sqlite:///{tmp_path / 'read-models.db'}")
    audit_engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    runners = [ProjectionRunner(store, engine, p(), batch=100) for p in ALL]
    runners.append(ProjectionRunner(store, audit_engine, TemporalProjection(), batch=100))
    fold_histories_from_the_event_log(runners)
    for runner in runners:
        await runner.start()
    try:
        await bus.accept(planned(datetime(2020, 3, 1, 10, tzinfo=UTC)))
        read = ReadModels(engine, runners)
        for runner in runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        app = build_app(read, settings())
        token = issue_token(settings(), Role("auditor"), "auditor-user")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as client:
            response = await client.post(
                "/graphql", json={"query": HEALTH}, headers={"Authorization": f"Bearer {token}"}
            )
    finally:
        for runner in runners:
            await runner.stop()
        engine.dispose()
        audit_engine.dispose()
    body = response.json()
    assert "errors" not in body, body
    health = body["data"]["health"]
    counted = {p["name"]: p["parkedEvents"] for p in health["projections"]}
    assert counted["audit_history"] == 1, counted
    assert health["ok"] is False
    listed = [p for p in health["parked"] if p["projection"].startswith("audit_history")]
    assert len(listed) == 1, health["parked"]
    assert listed[0]["aggregate"] == "tender/t1"
    assert "no JSON form for Something" in listed[0]["error"]
    # Nothing else parked: the list and the counts agree.
    assert len(health["parked"]) == sum(counted.values()) == 1, health
