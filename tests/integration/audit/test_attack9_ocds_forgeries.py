"""attack9: the OCDS packages (the registry's public publication) are built from what the
read models take as fact. The export read the streams raw: an event altered in place and
re-published with a stream's NATS login (its hash kept) went into the release as the tender's
title, and bytes that are no envelope on a tender subject failed every export ("1 validation
error for EventEnvelope"). Now each is left out and logged, and the package is the one the
genuine events make. (An exact re-published copy made no difference before either: the
releases fold it away; it stays as the guard that the duplicate check leaves the original.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from tests.integration.audit.test_graphql_history import SCHEMA, setup
from tests.support.audit_facts import TENDER

TITLE = "0800-2000 Veilig Thuis telephony"
QUERY = f'{{ ocds(tenderId: "{TENDER}", knownAt: "2026-11-01T00:00:00Z") }}'  # fixed bytes


def altered(raw: bytes) -> bytes:
    fields = json.loads(raw)
    fields["payload"]["title"] = "Mallory's tender"
    fields["event_id"] = "00000000-0000-4000-8000-000000000000"
    return json.dumps(fields).encode()


FORGERIES = {
    "altered": altered,
    "exact-copy": lambda raw: raw,
    "undecodable": lambda _raw: b"{not json",
}


async def package(context: object) -> dict[str, object]:
    result = await SCHEMA.execute(QUERY, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    built: dict[str, object] = result.data["ocds"]
    return built


@pytest.mark.parametrize("kind", list(FORGERIES))
async def test_a_forged_event_is_not_published_in_the_ocds_packages(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path, kind: str
) -> None:
    context = await setup(nats_client, fixed_clock, tmp_path)
    genuine = await package(context)
    js = nats_client.jetstream()
    planned = await js.get_msg(REGISTRY.stream, 1)  # TenderPlanned
    assert planned.subject is not None
    assert planned.data is not None
    await js.publish(planned.subject, FORGERIES[kind](planned.data), stream=REGISTRY.stream)

    assert await package(context) == genuine
    assert "Mallory" not in json.dumps(genuine)
    releases = genuine["release_package"]["releases"]  # type: ignore[index]
    assert {r["tender"]["title"] for r in releases if "title" in r["tender"]} == {TITLE}
