"""A command's log lines carry its correlation id, taken from the request the command
service parses anyway (not from a second parse of the body): the request's
`correlation_id`, else its command id; a `Gt-Correlation-Id` header before either. Nothing
stays bound after the command, and outside a command nothing is bound at all."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence

import pytest

from contracts_schema.base import DomainEvent
from eventstore.clock import FixedClock
from eventstore.commands import CommandRoute, CommandService, DecisionContext
from eventstore.memory import InMemoryEventStore
from eventstore.observability import (
    bind_correlation,
    correlation_id,
    current_correlation_id,
    json_handler,
    observe_command,
)
from tests.support.ledger import DECIDER, EVENT_TYPES, LEDGER, Ledger, RecordEntries, decide

log = logging.getLogger("gt.test.cmd7")


def deciding(state: Ledger, command: RecordEntries, ctx: DecisionContext) -> Sequence[DomainEvent]:
    log.info("deciding %s", command.command_id)
    return decide(state, command, ctx)


def request(command_id: str, correlation: str | None) -> bytes:
    command = RecordEntries(command_id=command_id, ledger_id="l", amounts=[1])
    return json.dumps(
        {
            "command_type": "RecordEntries",
            "command": command.model_dump(mode="json"),
            "actor": "t",
            "correlation_id": correlation,
        }
    ).encode()


@pytest.mark.parametrize(
    ("headers", "correlation", "expected"),
    [
        ({}, "corr-1", "corr-1"),
        ({}, None, "c-1"),  # no correlation id: the command's id
        ({"Gt-Correlation-Id": "from-header"}, "corr-1", "from-header"),
    ],
)
async def test_a_commands_log_lines_carry_the_correlation_id_its_request_names(
    fixed_clock: FixedClock, headers: dict[str, str], correlation: str | None, expected: str
) -> None:
    store = InMemoryEventStore(fixed_clock)
    await store.ensure_stream(LEDGER)
    route = CommandRoute(RecordEntries, DECIDER, lambda c: c.ledger_id, deciding)
    svc = CommandService(LEDGER, store, fixed_clock, [route], EVENT_TYPES)
    await svc.start()
    stream = io.StringIO()
    handler = json_handler(stream)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    subject = "ledger.commands.RecordEntries"
    body = request("c-1", correlation)
    try:
        reply = await observe_command(
            "ledger", subject, headers, body, lambda: svc.handle(subject, body)
        )
    finally:
        log.removeHandler(handler)
    assert reply.startswith(b'{"status":"accepted"')
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["correlation_id"] == expected
    assert correlation_id.get() is None  # unbound after the command
    assert current_correlation_id() is None


async def test_outside_a_command_nothing_is_bound() -> None:
    bind_correlation("stray")
    assert correlation_id.get() is None
    assert current_correlation_id() is None
