"""The frozen corpus of stored events, and what the current code makes of it.

`histories/<name>.jsonl` holds every event one recording stored (envelope as stored, stream,
sequence, subject), recorded once through the real code path: the registry and enrolment
services on the in-memory store, sent the demo history and one generated history
(`tests.support.histories`, derandomized), at a fixed clock. A recording is never rewritten:
when an event model gains a version, a new recording is added beside the old ones, so the
corpus holds every event type in every version that was ever written.

`expected/<name>.json` is what the current code makes of a recording: the gateway's read
models (every table, on SQLite, every version row) and the OCDS export of every tender.
`tests/service/test_corpus.py` loads each recording, projects and exports it, and compares:
any drift fails. After a deliberate change of meaning, `make corpus` rewrites the expected
outputs (review the diff); `make corpus-record NAME=<name>` adds a recording.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from sqlalchemy import Engine, MetaData, select

from audit.bitemporal import Horizon
from audit.ocds.export import gather, packages
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bootstrap import demo
from bootstrap.parts import command_service, enrolment_service, notifier_service, registry_service
from contracts_schema.base import Command
from contracts_schema.catalogue import EVENT_MODELS
from contracts_schema.notifier import commands as nt
from contracts_schema.privacy import ErasePerson
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.projection import ProjectionRunner
from eventstore.records import StoredEvent, decode
from eventstore.sql import make_engine
from gateway.projections import ALL
from notifier.routes import INTERNAL_COMMANDS
from tests.service.bus import InProcessBus
from tests.support.histories import histories

HERE = Path(__file__).resolve().parent
HISTORIES = HERE / "histories"
EXPECTED = HERE / "expected"
RECORDED_AT = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # the fixed clock of every recording
DEMO_TODAY = date(2025, 6, 2)
EXPORTED_AT = datetime(2025, 6, 3, tzinfo=UTC)  # the OCDS packages' publishedDate
SEED_NAMESPACE = 7_001


def generated_history(namespace: int) -> list[Command]:
    """A generated history (seeded by its namespace): of a few drawn, the one with the most
    kinds of command. Recorded once and frozen, so a later hypothesis may draw otherwise."""
    drawn: list[list[Command]] = []

    @settings(
        max_examples=40,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @seed(namespace)
    @given(histories(namespace=namespace))
    def draw(history: list[Command]) -> None:
        drawn.append(history)

    draw()
    return max(drawn, key=lambda h: (len({c.command_type for c in h}), len(h)))


async def event_types(store: InMemoryEventStore) -> set[str]:
    return {e.envelope.event_type for c in CONTEXTS.values() async for e in store.read_stream(c)}


def notifier_commands() -> tuple[list[Command], list[Command]]:
    """The notifier's facts: a webhook subscribed, replayed and ended; a person erased; an
    expiry warning."""
    public: list[Command] = [
        nt.SubscribeWebhook(
            command_id="corpus-hook",
            subscription_id="corpus-hook",
            organisation_code=demo.VNG,
            url="https://hooks.example.org/gt",
            event_types=["nl.gt.contract.signed.v1"],
        ),
        nt.ReplayWebhookDeliveries(
            command_id="corpus-hook-replay",
            subscription_id="corpus-hook",
            organisation_code=demo.VNG,
            from_seq=1,
        ),
        nt.UnsubscribeWebhook(
            command_id="corpus-hook-end", subscription_id="corpus-hook", organisation_code=demo.VNG
        ),
        # An erasure (docs/privacy.md): the person's pseudonym, never their identity.
        ErasePerson(command_id="corpus-erase", pseudonym=f"p-{'c0' * 16}", basis="request"),
    ]
    internal: list[Command] = [
        nt.RaiseExpiryWarning(
            command_id="corpus-expiry",
            contract_id="gt-mobiel-raam",
            contract_kind="framework",
            date_kind="end",
            target_date=date(2025, 12, 31),
            stage="6m",
            months_before=6,
            due_on=date(2025, 6, 30),
            raised_on=date(2025, 6, 30),
            late=False,
            recipients=[demo.VNG],
        )
    ]
    return public, internal


OCDS_FIXTURE = Path(__file__).parents[1] / "service" / "data" / "ocds" / "fictional-releases.json"


async def record(name: str) -> Path:
    """Record the demo and a generated history through the services; write the jsonl."""
    clock = FixedClock(RECORDED_AT)
    store = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [
        registry_service(store, clock),
        enrolment_service(store, clock),
        notifier_service(store, clock),
    ]
    internal = command_service(INTERNAL_COMMANDS, store, clock)
    for service in (*services, internal):
        await service.start()
    bus, internal_bus = InProcessBus(services), InProcessBus([internal])
    public, warnings = notifier_commands()
    refused: list[str] = []

    async def send(via: InProcessBus, commands: list[Command]) -> None:
        for command in commands:
            reply = await via.send(command, "coordinator:corpus")
            if not isinstance(reply, CommandAccepted):
                refused.append(f"{command.command_type} {command.command_id}: {reply}")

    await send(bus, [*demo.history(DEMO_TODAY), *public])
    await send(internal_bus, warnings)
    # Published OCDS releases, imported as recorded facts (their provenance events).
    imported = await import_items(read(OCDS_FIXTURE.read_bytes(), "corpus"), bus.request, store)
    refused += [f"import {p.path}: {p.reason}" for p in imported.skipped]
    # A plan whose tender period a later planning release gives (TenderPlanRevised, import19).
    revised = await import_items(read(plan_revised_package(), "corpus"), bus.request, store)
    refused += [f"import {p.path}: {p.reason}" for p in revised.skipped]
    # A tender a later release restates (TenderRestated, import20).
    restated = await import_items(read(restated_package(), "corpus"), bus.request, store)
    refused += [f"import {p.path}: {p.reason}" for p in restated.skipped]
    # A signed contract a later release restates (ContractRestated, import25).
    contract = await import_items(read(contract_restated_package(), "corpus"), bus.request, store)
    refused += [f"import {p.path}: {p.reason}" for p in contract.skipped]
    # Generated histories until every event type is recorded (in fixed namespaces).
    wanted = {m.event_type for m in EVENT_MODELS}
    for namespace in range(SEED_NAMESPACE, SEED_NAMESPACE + 16):
        if wanted <= await event_types(store):
            break
        await send(bus, generated_history(namespace))
    if refused:
        raise SystemExit("the recording's commands were refused:\n" + "\n".join(refused))
    missing = wanted - await event_types(store)
    if missing:
        print(f"not recorded (no command reaches them): {', '.join(sorted(missing))}")
    path = HISTORIES / f"{name}.jsonl"
    if path.exists():
        raise SystemExit(f"{path} exists: a recording is frozen; choose a new name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for context in CONTEXTS.values():
            async for event in store.read_stream(context):
                out.write(line(event) + "\n")
    return path


def plan_revised_package() -> bytes:
    """Two planning releases of one process: the second gives the plan its tender period."""
    buyer = {"id": "NL-KVK-71830960", "name": "VNG"}
    releases = [
        {"ocid": "ocds-corpus-plan", "id": f"p{n}", "date": f"{on}T10:00:00Z",
         "tag": ["planning"], "initiationType": "tender", "buyer": buyer,
         "parties": [{**buyer, "roles": ["buyer"]}],
         "tender": {"id": "t1", "title": "Telefonie", "status": "planned",
                    "procurementMethod": "open", "procuringEntity": buyer, **period}}
        for n, on, period in [
            (1, "2025-03-05", {}),
            (2, "2025-04-07", {"tenderPeriod": {"startDate": "2025-09-01T00:00:00Z"}}),
        ]
    ]  # fmt: skip
    return json.dumps({"uri": "https://example.org/plan.json", "version": "1.1",
                       "publishedDate": releases[-1]["date"], "publisher": {"name": "VNG"},
                       "releases": releases}).encode()  # fmt: skip


def restated_package() -> bytes:
    """A tender, then a release restating its title, procedure, a lot's title and its start."""
    buyer = {"id": "NL-KVK-71830960", "name": "VNG"}
    lots = [{"id": "L1", "title": "Vast"}, {"id": "L2", "title": "Mobiel"}]
    tender = {
        "id": "t1",
        "title": "Telefonie",
        "status": "active",
        "procurementMethod": "open",
        "procuringEntity": buyer,
        "lots": lots,
        "tenderPeriod": {"startDate": "2025-05-01T00:00:00Z"},
    }
    restated = {
        **tender,
        "title": "Vaste en mobiele telefonie",
        "procurementMethod": "selective",
        "lots": [{"id": "L1", "title": "Vaste telefonie"}, lots[1]],
        "tenderPeriod": {"startDate": "2025-05-08T00:00:00Z"},
    }
    releases = [
        {"ocid": "ocds-corpus-restated", "id": f"r{n}", "date": f"{on}T10:00:00Z",
         "tag": [tag], "initiationType": "tender", "buyer": buyer,
         "parties": [{**buyer, "roles": ["buyer"]}], "tender": body}
        for n, on, tag, body in [(1, "2025-05-01", "tender", tender),
                                 (2, "2025-05-06", "tenderAmendment", restated)]
    ]  # fmt: skip
    return json.dumps({"uri": "https://example.org/restated.json", "version": "1.1",
                       "publishedDate": releases[-1]["date"], "publisher": {"name": "VNG"},
                       "releases": releases}).encode()  # fmt: skip


def contract_restated_package() -> bytes:
    """A tender awarded and its contract signed, then a release correcting the contract's
    signing day and start and no longer stating its maximum extent or value."""
    buyer = {"id": "NL-KVK-71830960", "name": "VNG"}
    firm = {"id": "NL-KVK-27124701", "name": "Firma A"}
    tender = {
        "id": "t1",
        "title": "Datacenter",
        "status": "active",
        "procurementMethod": "open",
        "procuringEntity": buyer,
        "tenderPeriod": {"startDate": "2025-02-03T00:00:00Z"},
    }
    awards = [
        {
            "id": "a1",
            "status": "active",
            "date": "2025-04-01T00:00:00Z",
            "suppliers": [{"id": firm["id"]}],
        }
    ]
    signed = {
        "id": "c1",
        "awardID": "a1",
        "status": "active",
        "dateSigned": "2025-05-01T00:00:00Z",
        "period": {
            "startDate": "2025-06-01T00:00:00Z",
            "endDate": "2027-05-31T00:00:00Z",
            "maxExtentDate": "2029-05-31T00:00:00Z",
        },
        "value": {"amount": 250000, "currency": "EUR"},
    }
    restated = {
        **signed,
        "dateSigned": "2025-05-02T00:00:00Z",
        "value": {"amount": None, "currency": None},
        "period": {**signed["period"], "startDate": "2025-06-02T00:00:00Z", "maxExtentDate": None},
    }
    releases = [
        {"ocid": "ocds-corpus-contract", "id": f"c{n}", "date": f"{on}T10:00:00Z",
         "tag": [tag], "initiationType": "tender", "buyer": buyer,
         "parties": [{**buyer, "roles": ["buyer"]}, {**firm, "roles": ["supplier"]}],
         "tender": tender, **sections}
        for n, on, tag, sections in [
            (1, "2025-02-03", "tender", {}),
            (2, "2025-04-01", "award", {"awards": awards}),
            (3, "2025-05-02", "contract", {"awards": awards, "contracts": [signed]}),
            (4, "2025-05-20", "contractUpdate", {"awards": awards, "contracts": [restated]}),
        ]
    ]  # fmt: skip
    return json.dumps({"uri": "https://example.org/contract.json", "version": "1.1",
                       "publishedDate": releases[-1]["date"], "publisher": {"name": "VNG"},
                       "releases": releases}).encode()  # fmt: skip


def line(event: StoredEvent) -> str:
    return json.dumps(
        {
            "stream": event.stream,
            "seq": event.seq,
            "subject": event.subject,
            "envelope": json.loads(event.envelope.model_dump_json()),
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def recordings() -> list[str]:
    return sorted(p.stem for p in HISTORIES.glob("*.jsonl"))


def stored_events(name: str) -> Iterator[StoredEvent]:
    """The recording's events, decoded from their stored bytes as a reader of the stream."""
    for text in (HISTORIES / f"{name}.jsonl").read_text().splitlines():
        row = json.loads(text)
        data = json.dumps(row["envelope"]).encode()
        yield decode(row["subject"], row["stream"], row["seq"], data)


async def loaded(name: str, clock: FixedClock | None = None) -> InMemoryEventStore:
    store = InMemoryEventStore(clock or FixedClock(RECORDED_AT))
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    await store.restore(list(stored_events(name)))
    return store


# A count table holds sums that a batch adds to: a row whose sum came back to zero answers
# as its absence, and whether it is kept depends on where the batches' boundaries fell
# (rebuild23: a derived count keeps none). Left out, so the corpus is one answer.
COUNT_TABLES = ("_points", "_cells", "_weeks", "_blocks", "_tree")


async def read_models(store: InMemoryEventStore, engine: Engine) -> dict[str, Any]:
    """Every gateway read model, projected from the store into `engine`: table -> rows."""
    runners = [ProjectionRunner(store, engine, projection(), batch=500) for projection in ALL]
    for runner in runners:
        await runner.start()
    try:
        for runner in runners:
            settled = await runner.wait_until(await runner.stream_heads(), timeout=120)
            if not settled:
                raise RuntimeError(f"{runner.projection.key} did not catch up")
    finally:
        for runner in runners:
            await runner.stop()
    keys = {runner.projection.key for runner in runners}
    metadata = MetaData()
    metadata.reflect(engine)
    tables: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if not any(name.startswith(f"{key}_") for key in keys):
                continue  # bookkeeping (checkpoints, parked events): not a view
            columns = sorted(table.columns, key=lambda c: c.name)
            rows = [_plain(dict(r._mapping)) for r in conn.execute(select(*columns))]
            if name.endswith(COUNT_TABLES):
                rows = [row for row in rows if row.get("n") != 0]
            tables[name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    return tables


async def ocds(store: InMemoryEventStore) -> dict[str, Any]:
    """The OCDS packages of every tender, as the registry knew it at the recording."""
    tenders = sorted(
        {
            e.envelope.aggregate_id
            async for e in store.read_stream(CONTEXTS["registry"])
            if e.envelope.aggregate_type == "tender"
        }
    )
    at = Horizon(EXPORTED_AT, EXPORTED_AT)
    return {
        tender: packages(await gather(store, tender, at), tender, EXPORTED_AT)  # type: ignore[arg-type]
        for tender in tenders
    }


async def outputs(name: str, database: Path) -> dict[str, Any]:
    store = await loaded(name)
    engine = make_engine(f"sqlite:///{database}")
    try:
        return {"read_models": await read_models(store, engine), "ocds": await ocds(store)}
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"


async def write_expected(database_dir: Path) -> list[Path]:
    written = []
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for name in recordings():
        path = EXPECTED / f"{name}.json"
        path.write_text(dump(await outputs(name, database_dir / f"{name}.db")))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", metavar="NAME", help="add a recording (then --expected)")
    args = parser.parse_args(argv)
    if args.record:
        print(f"recorded {asyncio.run(record(args.record))}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in asyncio.run(write_expected(Path(tmp))):
            print(f"wrote {path.relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
