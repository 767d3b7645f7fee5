"""Every generated history is accepted by the real embedded system, command by command.

The proof that `tests.support.histories.histories()` only produces valid histories (so a
property test can compare views over them without wading through refusals). One embedded
system serves the whole module; each example has its own id namespace.

HISTORIES_PROFILE=long runs many more random examples (HISTORIES_EXAMPLES, default 100) and
shrinks a failure, e.g. `HISTORIES_PROFILE=long HISTORIES_EXAMPLES=500 .venv/bin/pytest
tests/integration/test_generated_histories.py` (~0.5 s per example on 2 cores).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio
from hypothesis import example, given

from contracts_schema.base import Command
from contracts_schema.enrolment.commands import LoadMunicipalities
from contracts_schema.replies import CommandAccepted, CommandRejected
from tests.support.histories import (
    backdated,
    before_creation,
    histories,
    horizons,
    known_through,
    with_facts_between,
)
from tests.support.profiles import TIMEOUT, history_settings

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PROFILE = history_settings(15)
ACTOR = "coordinator:generated-histories"


class Bus(Protocol):
    async def send(self, command: Command, actor: str) -> CommandAccepted | CommandRejected: ...


@dataclass(repr=False)
class Running:
    bus: Bus
    system: Any  # the embedded System; only its read side is used here

    def __repr__(self) -> str:  # keeps hypothesis' failure report to the history itself
        return "Running(embedded system)"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    # The one place that names where the embedded system lives (it may move to bootstrap.*).
    from bootstrap.embedded import embedded
    from gateway.commandbus import CommandBus

    data: Path = tmp_path_factory.mktemp("generated-histories") / "data"
    async with embedded(data, port=0) as (system, _server):
        yield Running(CommandBus(system.nc, timeout=30), system)


def describe(i: int, command: Command) -> str:
    body = command.model_dump(mode="json", exclude_none=True, exclude={"command_id"})
    return f"#{i} {command.command_type} {command.command_id} {body}"


@pytest.mark.timeout(TIMEOUT)
@PROFILE
@given(history=histories())
@example(history=with_facts_between())
async def test_every_command_of_a_generated_history_is_accepted(
    running: Running, history: list[Command]
) -> None:
    refused: list[str] = []
    silent: list[str] = []
    recorded: list[datetime] = []
    positions: dict[str, int] = {}
    for i, command in enumerate(history):
        reply = await running.bus.send(command, ACTOR)
        recorded.append(datetime.now(UTC))
        if isinstance(reply, CommandRejected):
            refused.append(f"{describe(i, command)}\n    -> {reply.code}: {reply.message}")
            continue
        assert not reply.duplicate, describe(i, command)
        for event in reply.events:
            positions[event.stream] = max(positions.get(event.stream, 0), event.seq)
        # A generated command always changes something (a municipality load may find every
        # row already registered by an earlier example in this system).
        if not reply.events and not isinstance(command, LoadMunicipalities):
            silent.append(describe(i, command))
    assert not refused, (
        f"{len(refused)} of {len(history)} commands refused"
        f" ({len(backdated(history))} backdated):\n" + "\n".join(refused)
    )
    assert not silent, "accepted without recording anything:\n" + "\n".join(silent)

    # A fact dated the day before its aggregate began is refused, with the rule's code.
    for probe, code in before_creation(history):
        reply = await running.bus.send(probe, ACTOR)
        assert isinstance(reply, CommandRejected), describe(-1, probe)
        assert reply.code == code, (describe(-1, probe), reply.message)

    # The read side keeps up with the history (a projection that fails on it would stall).
    token = ",".join(f"{stream}:{seq}" for stream, seq in sorted(positions.items()))
    await running.system.read.wait_for(token, timeout=30)

    # The horizons helper gives points a view comparison would ask at.
    points = horizons(history, recorded)
    assert points
    assert all(known_through(recorded, k) <= len(history) for _, k in points)
    assert any(k is not None and known_through(recorded, k) == 0 for _, k in points)
