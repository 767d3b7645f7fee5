"""guard22: what a stream that lost messages looks like to the operator, and the two repairs.

The service's health report (`/health`, and `/metrics`) names the stream, how many messages it
lost, the highest lost sequence and since when. The operator either acknowledges the loss
(`python -m bootstrap.serve backup acknowledge-loss REGISTRY --reason ...`, signed with the
context's key: the service decides again, `audit verify` names the hole as acknowledged, and
a further loss is refused again), or restores the stream from a backup that holds the message
(the service decides again on the whole history). Real JetStream, the services' commands."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from typer.testing import CliRunner

from audit.verify import verify_stream
from bootstrap.serve import cli as serve_cli
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.backup import backup, restore
from eventstore.health import HealthServer
from eventstore.signing import EventSigner, new_seed
from eventstore.store import EventStore
from eventstore.trust import Trust, install
from tests.integration.audit.test_guard22_lost_last_event import (
    CONTRACT,
    amend,
    clock,
    lose,
    refused_for_the_loss,
    versions,
)
from tests.service.bus import InProcessBus
from tests.service.story import bus_on, framework_signed

SEEDS = {"registry": new_seed(), "enrolment": new_seed()}
SIGNERS = {name: EventSigner(seed) for name, seed in SEEDS.items()}


def signed_writer(nc: NATS) -> EventStore:
    """Each context's events signed by its key, the readers on `nc` trusting those keys."""
    install(Trust.of({n: {s.public_key} for n, s in SIGNERS.items()}), nc)
    return EventStore(nc, clock(), protect=False, signers=SIGNERS)


async def amended_twice(nc: NATS) -> tuple[InProcessBus, int]:
    bus = await bus_on(signed_writer(nc), clock())
    await framework_signed(bus)
    for n in (1, 2):
        await bus.accept(amend(n))
    history = await EventStore(nc, clock()).load(REGISTRY, "contract", CONTRACT)
    assert [e.envelope.aggregate_version for e in history.events] == [1, 2, 3]
    return bus, history.last_seq


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
    return json.loads(body) if url.endswith("/health") else body


async def test_the_health_report_names_the_loss_and_since_when(nats_client: NATS) -> None:
    bus, last = await amended_twice(nats_client)
    store = EventStore(nats_client, clock())
    health = await HealthServer().start()
    try:
        health.add_report("event_streams", store.losses.health)
        whole = await asyncio.to_thread(get, f"{health.url}/health")
        assert whole["status"] == "ok", whole
        assert whole["reports"]["event_streams"] == {"problems": [], "streams": []}
        await lose(nats_client, last)
        refused_for_the_loss(await bus.send(amend(3)), last)
        report = await asyncio.to_thread(get, f"{health.url}/health")
        assert report["status"] == "problems", report
        [problem] = report["problems"]
        assert problem.startswith(f"REGISTRY has lost 1 message (the highest lost is seq {last};")
        assert "seen since 20" in problem
        assert "commands on older aggregates are refused" in problem
        [stream] = report["reports"]["event_streams"]["streams"]
        assert (stream["stream"], stream["lost"]) == ("REGISTRY", 1), stream
        assert (stream["highest_lost_seq"], stream["refusing"]) == (last, True), stream
        assert stream["since"] in problem
        metrics = await asyncio.to_thread(get, f"{health.url}/metrics")
        assert 'gt_stream_lost_messages{kind="unacknowledged",stream="REGISTRY"} 1.0' in metrics
    finally:
        await health.stop()


def acknowledge_loss(nc: NATS, reason: str) -> str:
    at = nc.connected_url
    assert at is not None
    result = CliRunner().invoke(
        serve_cli,
        ["backup", "acknowledge-loss", "REGISTRY", "--reason", reason,
         "--nats-url", f"nats://{at.hostname}:{at.port}"],
        env={"GT_SIGNING_SEED": SEEDS["registry"]},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


async def test_an_acknowledged_loss_is_decided_on_again_until_more_is_lost(
    nats_client: NATS,
) -> None:
    bus, last = await amended_twice(nats_client)
    await lose(nats_client, last)
    refused_for_the_loss(await bus.send(amend(3)), last)
    keys = {n: {s.public_key} for n, s in SIGNERS.items()}
    before = await verify_stream(EventStore(nats_client, clock()), REGISTRY, trusted=keys)
    assert [p.kind for p in before.problems] == ["deleted"], before.problems

    said = await asyncio.to_thread(acknowledge_loss, nats_client, "disk of nats-2 lost, ticket 7")
    record = json.loads(said)
    assert (record["lost"], record["highest"]) == (1, last), said

    # The running process decides again, on the history as the stream holds it.
    again = await bus.send(amend(3))
    assert isinstance(again, CommandAccepted), again
    assert await versions(nats_client) == [1, 2, 3]
    after = await verify_stream(EventStore(nats_client, clock()), REGISTRY, trusted=keys)
    assert after.problems == [], after.problems  # the chain [1, 2, 3'] is whole
    [hole] = after.acknowledged
    assert hole.where == f"REGISTRY seq {last}", hole
    assert SIGNERS["registry"].public_key in hole.detail, hole
    assert "ticket 7" in hole.detail, hole

    # A further loss is not covered by the acknowledgement: refused again.
    newest = (await EventStore(nats_client, clock()).load(REGISTRY, "contract", CONTRACT)).last_seq
    await lose(nats_client, newest)
    refused = await bus_on(signed_writer(nats_client), clock())
    reply = await refused.send(amend(4))
    assert reply.code == "UNTRUSTED_HISTORY", reply  # type: ignore[union-attr]
    assert "REGISTRY has lost 2 messages" in reply.message, reply  # type: ignore[union-attr]
    assert "1 acknowledged by" in reply.message, reply  # type: ignore[union-attr]


async def test_a_stream_restored_from_a_backup_is_decided_on_again(
    nats_client: NATS, tmp_path: Path
) -> None:
    bus, last = await amended_twice(nats_client)
    await backup(nats_client, tmp_path / "backup", [REGISTRY.stream])
    await lose(nats_client, last)
    refused_for_the_loss(await bus.send(amend(3)), last)
    # The operator: the damaged stream removed, the backup restored.
    await nats_client.jetstream().delete_stream(REGISTRY.stream)
    await restore(nats_client, tmp_path / "backup", [REGISTRY.stream])
    info = await nats_client.jetstream().stream_info(REGISTRY.stream)
    assert isinstance(info.config, StreamConfig)
    assert info.state.messages == info.state.last_seq

    again = await bus.send(amend(3))  # the running process, on the whole history
    assert isinstance(again, CommandAccepted), again
    assert await versions(nats_client) == [1, 2, 3, 4]
    enrolment = await EventStore(nats_client, clock()).load(ENROLMENT, "organisation", "GM0363")
    assert enrolment.events
