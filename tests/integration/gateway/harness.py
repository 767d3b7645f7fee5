"""A gateway fed with given events and queried over HTTP (in-process, ASGI).

Over real NATS and a real database, or over the in-memory event store and SQLite
(`start_memory_gateway`, for tests/service): the same read models, runner and schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from contracts_schema.subjects import CONTEXTS
from contracts_schema.upcasting import decode
from eventstore.commands import consistency_token
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort
from eventstore.projection import ProjectionRunner
from eventstore.records import CommandMetadata, NewEvent, StoredEvent
from eventstore.sql import make_engine
from eventstore.store import EventStore
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.live import LiveEvents
from gateway.projections import ALL
from gateway.projections.event_log_history import fold_histories_from_the_event_log
from gateway.readmodels import ReadModels
from gateway.settings import GatewaySettings

SECRET = "integration-test-secret-of-enough-length"
AGGREGATE_KEYS = {
    "programme": "programme_id",
    "tender": "tender_id",
    "contract": "contract_id",
    "organisation": "code",
    "enrolment_window": "tender_id",
    "call_off": "call_off_id",
}
CONTEXT_OF = {
    "programme": "registry",
    "tender": "registry",
    "contract": "registry",
    "organisation": "enrolment",
    "enrolment_window": "enrolment",
    "call_off": "enrolment",
}


def settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(jwt_secret=SECRET, **{"consistency_timeout": 5.0, **overrides})


@dataclass
class Gateway:
    source: NATS | InMemoryEventStore  # what feeds the read models: the broker, or memory
    store: EventStorePort
    engine: Engine
    settings: GatewaySettings
    commands: Any = None  # in memory: a bus shaped like the gateway's CommandBus, if any
    runners: list[ProjectionRunner] = field(default_factory=list)
    read: ReadModels | None = None
    client: httpx.AsyncClient | None = None
    _commands: int = 0

    async def start(self) -> Gateway:
        for context in ("registry", "enrolment", "notifier"):
            await self.store.ensure_stream(CONTEXTS[context])
        made = [ProjectionRunner(self.source, self.engine, p(), batch=100) for p in ALL]
        fold_histories_from_the_event_log(made)  # as gateway.readside wires them
        for runner in made:
            await runner.start()
            self.runners.append(runner)
        self.read = ReadModels(self.engine, self.runners)
        try:
            if isinstance(self.source, NATS):
                bus, live = CommandBus(self.source), LiveEvents(self.source)
                app = build_app(self.read, self.settings, bus, live)
            else:
                app = build_app(self.read, self.settings, self.commands)
        except Exception:
            await self.stop()
            raise
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )
        return self

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        for runner in self.runners:
            await runner.stop()
        self.engine.dispose()

    def token(self, role: str, organisation: str | None = None) -> str:
        return issue_token(self.settings, Role(role), f"{role}-user", organisation=organisation)

    async def given(
        self,
        aggregate_type: str,
        event_type: str,
        payload: dict[str, Any],
        *,
        on: date | None = None,
        at: datetime | None = None,
    ) -> list[StoredEvent]:
        """Append one event as a service would have (envelope, hash chain, expected sequence).

        The payload must be a valid event: a service never stores anything else.
        """
        # Stored as version 1, as written before any later version: decode checks it reads.
        decode(event_type, 1, payload)
        context = CONTEXTS[CONTEXT_OF[aggregate_type]]
        aggregate_id = payload[AGGREGATE_KEYS[aggregate_type]]
        history = await self.store.load(context, aggregate_type, aggregate_id)
        occurred = at or datetime.combine(on or date(2020, 1, 1), datetime.min.time(), tzinfo=UTC)
        self._commands += 1
        command_id = f"given-{self._commands}"
        return await self.store.append(
            history,
            [NewEvent(event_type, 1, payload, occurred)],
            CommandMetadata(command_id, "coordinator:test", command_id),
        )

    async def settle(self, events: Sequence[StoredEvent]) -> None:
        assert self.read is not None
        await self.read.wait_for(consistency_token(events), timeout=120)

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        assert self.client is not None
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        body: dict[str, Any] = response.json()
        return body

    def versions(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored version of every versioned table, in a stable order (to compare the
        versions two read models wrote)."""
        tables = [
            t for r in self.runners for t in r.metadata.sorted_tables if "versioned_key" in t.info
        ]
        with self.engine.connect() as conn:
            return {
                t.name: sorted(
                    (tuple(repr(v) for v in row) for row in conn.execute(t.select())), key=repr
                )
                for t in tables
            }


async def start_gateway(
    nc: NATS, store: EventStore, database_url: str, **overrides: Any
) -> Gateway:
    return await Gateway(nc, store, make_engine(database_url), settings(**overrides)).start()


async def start_memory_gateway(
    store: InMemoryEventStore, database_url: str, commands: Any = None, **overrides: Any
) -> Gateway:
    """The gateway's read models fed by the in-memory store: no broker, no database server."""
    engine = make_engine(database_url)
    return await Gateway(store, store, engine, settings(**overrides), commands).start()
