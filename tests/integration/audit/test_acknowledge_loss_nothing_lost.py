"""`backup acknowledge-loss` on a stream that lost nothing, or that does not exist yet on the
server, is refused (exit 2, one line) and writes no acknowledgement: an operator's mistake
must not pre-acknowledge a loss that has not happened. Real JetStream."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from bootstrap.serve import cli as serve_cli
from eventstore.signing import new_seed
from tests.integration.audit.test_guard22_lost_last_event import amended_twice


def acknowledge(nc: NATS, stream: str) -> tuple[int, str]:
    at = nc.connected_url
    assert at is not None
    result = CliRunner().invoke(
        serve_cli,
        ["backup", "acknowledge-loss", stream, "--reason", "checking",
         "--nats-url", f"nats://{at.hostname}:{at.port}"],
        env={"GT_SIGNING_SEED": new_seed()},
    )  # fmt: skip
    return result.exit_code, result.output


async def checkpoint_subjects(nc: NATS) -> list[str]:
    js = nc.jetstream()
    try:
        info = await js.stream_info("CHECKPOINTS", subjects_filter=">")
    except Exception:  # no checkpoint stream yet: nothing was written to it
        return []
    return sorted((info.state.subjects or {}).keys())


async def test_a_stream_that_lost_nothing_is_not_acknowledged(nats_client: NATS) -> None:
    await amended_twice(nats_client)  # REGISTRY exists and holds a whole history
    before = await checkpoint_subjects(nats_client)
    code, said = await asyncio.to_thread(acknowledge, nats_client, "REGISTRY")
    assert code == 1, said  # the server's state, not the arguments (those exit 2)
    assert "REGISTRY has lost no message: nothing to acknowledge" in said, said
    assert "Traceback" not in said
    assert await checkpoint_subjects(nats_client) == before


async def test_a_stream_not_on_the_server_is_named(nats_client: NATS) -> None:
    code, said = await asyncio.to_thread(acknowledge, nats_client, "ENROLMENT")
    assert code == 1, said  # the server's state, not the arguments (those exit 2)
    assert "no stream ENROLMENT" in said, said
    assert await checkpoint_subjects(nats_client) == []
