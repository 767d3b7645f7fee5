"""Runs the expiry schedule for a day: every due warning becomes one event, exactly once.

Exactly once across instances and restarts: the warning's command id is derived from its key,
and the append goes to the contract's `expiry_schedule` aggregate with an expected sequence.
A second instance racing for the same warning gets a conflict, reloads, finds the event of that
command id and answers "duplicate" without writing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from contracts_schema.notifier.commands import RaiseExpiryWarning
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY
from eventstore.commands import CommandService
from eventstore.projection import ProjectionRunner
from eventstore.store import CommandMetadata, EventStore
from notifier.domain.schedule import DueWarning, ExpiryPolicy, due_warnings
from notifier.projection import NotifierSchedule
from notifier.routes import RAISE_WARNING

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    day: date
    raised: list[DueWarning] = field(default_factory=list)
    already_raised: list[DueWarning] = field(default_factory=list)
    failed: list[tuple[DueWarning, str]] = field(default_factory=list)


async def catch_up(store: EventStore, runner: ProjectionRunner, timeout: float = 30.0) -> None:
    """Read-your-writes: let the read model see everything stored so far in its streams."""
    heads = {}
    for context in (REGISTRY, ENROLMENT, NOTIFIER):
        try:
            heads[context.stream] = await store.last_seq(context)
        except NotFoundError:  # stream not created yet: nothing to wait for
            continue
    if not await runner.wait_until(heads, timeout):
        raise TimeoutError(f"notifier read model did not reach {heads} in {timeout}s")


class ExpiryTicker:
    def __init__(
        self,
        service: CommandService,
        store: EventStore,
        engine: Engine,
        projection: NotifierSchedule,
        runner: ProjectionRunner,
        policy: ExpiryPolicy,
        *,
        actor: str = "notifier",
    ) -> None:
        self._service = service
        self._store = store
        self._engine = engine
        self._projection = projection
        self._runner = runner
        self._policy = policy
        self._actor = actor

    async def catch_up(self, timeout: float = 30.0) -> None:
        await catch_up(self._store, self._runner, timeout)

    def due(self, day: date) -> list[DueWarning]:
        with self._engine.connect() as conn:
            schedules = self._projection.schedules(conn, day)
            raised = self._projection.raised_keys(conn)
        return [w for s in schedules for w in due_warnings(s, day, self._policy, raised)]

    async def tick(self, day: date) -> TickResult:
        await self.catch_up()
        result = TickResult(day)
        for warning in await asyncio.to_thread(self.due, day):
            outcome = await self._raise(warning, day)
            if outcome is None:
                result.raised.append(warning)
            elif outcome == "":
                result.already_raised.append(warning)
            else:
                result.failed.append((warning, outcome))
        return result

    async def _raise(self, warning: DueWarning, day: date) -> str | None:
        """None when this call raised it, "" when it was raised before, else the failure."""
        command = RaiseExpiryWarning(
            command_id=warning.command_id,
            occurred_at=datetime.combine(warning.due_on, time(), UTC),
            contract_id=warning.contract_id,
            contract_kind=warning.contract_kind,
            date_kind=warning.date_kind,
            target_date=warning.target_date,
            stage=warning.stage,
            months_before=warning.months_before,
            due_on=warning.due_on,
            raised_on=day,
            late=warning.late,
            recipients=list(warning.recipients),
        )
        meta = CommandMetadata(warning.command_id, self._actor, warning.command_id)
        reply = await self._service.execute(RAISE_WARNING, command, meta)
        if isinstance(reply, CommandAccepted):
            return None if reply.events and not reply.duplicate else ""
        if reply.code == "COMMAND_ID_REUSED":
            return ""  # raised earlier by a run that saw it on another day (other raised_on)
        log.error("expiry warning %s failed: %s %s", warning.key, reply.code, reply.message)
        return f"{reply.code}: {reply.message}"
