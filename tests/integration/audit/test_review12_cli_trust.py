"""review12: the audit CLI's readers (`audit projections rebuild`, `audit ocds export`, the
rebuild `audit verify` compares with) take as fact what the services' readers do. The CLI's
store (`audit.wiring.open_store`) installed no keys, so its readers checked hashes only: an
unsigned event published with a stream's NATS login, its hash recomputed, went into the
OCDS export and the rebuild, while every service's reader parks it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client as NATS

from audit.aggregates import load_envelopes
from audit.ocds.export import _of_type
from audit.wiring import open_store
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.hashing import json_form_hash
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.settings import NatsSettings
from eventstore.signing import local_signer
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from eventstore.trust import VERIFY_ENV, configured

FAR = datetime(2100, 1, 1, tzinfo=UTC)


async def genuine_then_forged(nats_client: NATS, fixed_clock: FixedClock, data: Path) -> None:
    """Tender T-1: a signed TenderPlanned, then Mallory's unsigned version 2 on its chain."""
    signer = local_signer(data, "registry")  # as make run keeps it: <data>/keys
    store = EventStore(nats_client, fixed_clock, signers={"registry": signer})
    await store.ensure_stream(REGISTRY)
    history = AggregateHistory(REGISTRY, "tender", "T-1", (), 0)
    planned = NewEvent("TenderPlanned", 1, {"tender_id": "T-1", "title": "genuine"}, FAR)
    stored = await store.append(history, [planned], CommandMetadata("c1", "a", "c1"))
    js = nats_client.jetstream()
    raw = await js.get_msg(REGISTRY.stream, stored[0].seq)
    forged = json.loads(raw.data)
    forged.update(
        aggregate_version=2,
        prev_hash=forged["hash"],
        event_id="00000000-0000-4000-8000-000000000000",
        payload={**forged["payload"], "title": "Mallory"},
    )
    forged.pop("signer"), forged.pop("signature")
    forged["hash"] = json_form_hash(forged)  # consistent, but signed by no one
    await js.publish(raw.subject, json.dumps(forged).encode(), stream=REGISTRY.stream)


async def test_the_cli_store_leaves_out_an_unsigned_forgery(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    await genuine_then_forged(nats_client, fixed_clock, tmp_path)
    settings = NatsSettings(nats_url=nats_server.url, data_dir=str(tmp_path))
    async with open_store(settings) as cli_store:
        kept = await _of_type(cli_store, REGISTRY, "tender", FAR)
    assert [e.payload["title"] for e in kept] == ["genuine"]


async def test_an_aggregate_replayed_by_the_audit_leaves_out_a_forgery(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    """`audit replay`/`history` and the audit's GraphQL history of one aggregate
    (`load_envelopes`) read it raw: Mallory's version 2 was replayed as the tender's title."""
    await genuine_then_forged(nats_client, fixed_clock, tmp_path)
    settings = NatsSettings(nats_url=nats_server.url, data_dir=str(tmp_path))
    async with open_store(settings) as cli_store:
        _type, _id, envelopes = await load_envelopes(cli_store, "registry/tender/T-1")
    assert [e.payload["title"] for e in envelopes] == ["genuine"]


def test_a_blank_verify_setting_keeps_signatures_checked() -> None:
    """`GT_READERS_VERIFY_SIGNATURES=` (an env file's blank line, `${VAR:-}`) is the default,
    on; only an explicit false turns it off."""
    keys = {"GT_SIGNING_PUBLIC_KEYS": "registry=UABC"}
    assert configured(environ={**keys, VERIFY_ENV: ""}).verify_signatures
    assert configured(environ={**keys, VERIFY_ENV: "  "}).verify_signatures
    assert not configured(environ={**keys, VERIFY_ENV: "false"}).verify_signatures
