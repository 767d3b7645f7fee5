"""`audit verify` names an event copied onto another aggregate's subject as what it is: a
`misplaced` copy, with the stream sequence and subject it lies on and the sequence of its
original; the original's chain still verifies (exit 1 for the copy, as for every problem).
Before: `misfiled`, plus a `reordered` chain problem in the original's aggregate, which
pointed the reader at a chain that was intact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.support.audit_facts import LNVT_TENDER, TENDER, record, spaced

OTHER = "other-tender"


def copy_onto_another_aggregate(server: NatsServer) -> tuple[int, int, str, str]:
    async def go() -> tuple[int, int, str, str]:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock, protect=False)
        await store.ensure_stream(ENROLMENT)
        stored = await record(store, clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
        original = stored[0]
        subject = REGISTRY.event_subject("tender", OTHER, original.envelope.event_type)
        ack = await nc.jetstream().publish(
            subject, original.envelope.model_dump_json().encode(), stream=REGISTRY.stream
        )
        await nc.close()
        return original.seq, ack.seq, subject, original.envelope.event_id

    return asyncio.run(go())


def test_a_copy_on_another_subject_is_named_misplaced_not_a_broken_chain(
    nats_server: NatsServer,
) -> None:
    original, copy, subject, event_id = copy_onto_another_aggregate(nats_server)
    app = audit_app()
    args = ["verify", "--nats-url", nats_server.url, "--streams-only"]
    result = CliRunner().invoke(app, args, terminal_width=400)
    assert result.exit_code == 1, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1, result.output  # before: misfiled, and reordered in TENDER's chain
    [line] = problems
    assert f"REGISTRY seq {copy} on subject {subject}" in line, line
    assert f"misplaced: a copy of the event at seq {original}" in line, line
    assert event_id in line, line
    assert "reordered" not in result.output
