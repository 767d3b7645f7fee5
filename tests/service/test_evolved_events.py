"""The two evolved events: money as {amount, currency} (ContractSigned, ContractAmended and
CallOffAwarded v2, for v1's bare `value_eur` float).

A history with both old- and new-version events replays to the same state as the equivalent
all-new history, projects to the same read models, and `audit verify` passes on it
(tests/integration/audit/test_evolved_verify.py, on JetStream): the v1
event is stored (and hashed, and signed) as written and lifted on every read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.folds import FOLDS
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.events import ContractAmended, ContractSigned
from contracts_schema.subjects import CONTEXTS, REGISTRY
from contracts_schema.upcasting import decode
from eventstore.clock import Clock, FixedClock
from eventstore.folded import load_folded
from eventstore.memory import InMemoryEventStore
from eventstore.ports import EventStorePort
from eventstore.records import CommandMetadata, NewEvent
from eventstore.sql import make_engine
from gateway.projections import ContractsProjection
from tests.corpus.corpus import read_models
from tests.service.bus import InProcessBus
from tests.service.story import KPN, LNVT, register_parties

SIGNED = {
    "contract_id": "c1",
    "kind": "contract",
    "contracting_authority": LNVT,
    "suppliers": [{"supplier_id": KPN, "name": "KPN", "lot_ids": []}],
    "signed_on": "2016-01-01",
    "start_date": "2016-01-01",
    "end_date": "2019-01-14",
}
V1 = {**SIGNED, "value_eur": 1_000_000.1}  # as the v1 code wrote it: a float
V2 = {**SIGNED, "value": {"amount": "1000000.1", "currency": "EUR"}}


async def _system(signed_version: int, payload: dict[str, Any]) -> InMemoryEventStore:
    clock = FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    store = InMemoryEventStore(clock)
    await record_history(store, clock, signed_version, payload)
    return store


async def record_history(
    store: EventStorePort, clock: Clock, signed_version: int, payload: dict[str, Any]
) -> None:
    """The signature stored in the given version, then an amendment (and a value change)
    decided and written by the current code on top of it."""
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    await register_parties(bus)
    history = await store.load(REGISTRY, "contract", "c1")
    on = datetime(2016, 1, 1, 9, tzinfo=UTC)
    await store.append(
        history,
        [NewEvent("ContractSigned", signed_version, payload, on)],
        CommandMetadata("sign-c1", "coordinator:test", "sign-c1"),
    )
    await bus.accept(
        cmd.AmendContract(
            command_id="amend-c1",
            contract_id="c1",
            summary="meer data",
            new_value_eur=Decimal("1250000.50"),
            occurred_at=datetime(2017, 6, 1, 9, tzinfo=UTC),
        )
    )


def test_a_v1_payload_reads_as_v2() -> None:
    signed = decode("ContractSigned", 1, V1)
    assert isinstance(signed, ContractSigned)
    assert signed == decode("ContractSigned", 2, V2)
    assert signed.value is not None
    assert (signed.value.amount, signed.value.currency) == (Decimal("1000000.1"), "EUR")
    amended = decode("ContractAmended", 1, {**_amended(), "new_value_eur": 1500})
    assert isinstance(amended, ContractAmended)
    assert amended.new_value is not None
    assert amended.new_value.amount == Decimal("1500")
    assert decode("CallOffAwarded", 1, _call_off(value_eur=48_000.5)) == decode(
        "CallOffAwarded", 2, _call_off(value={"amount": "48000.5", "currency": "EUR"})
    )


async def test_a_mixed_history_replays_and_projects_as_the_all_new_one(tmp_path: Path) -> None:
    mixed, new = await _system(1, V1), await _system(2, V2)
    stored = [e.envelope for e in (await mixed.load(REGISTRY, "contract", "c1")).events]
    assert [(e.event_type, e.schema_version) for e in stored] == [
        ("ContractSigned", 1),
        ("ContractAmended", 2),
    ]
    assert stored[0].payload == V1  # stored as written, never rewritten
    fold = FOLDS["registry", "contract"]
    state = await load_folded(mixed, fold, "c1")
    assert state == await load_folded(new, fold, "c1")
    assert state.value_eur == Decimal("1250000.50")
    views = []
    for name, store in (("mixed", mixed), ("new", new)):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        tables = await read_models(store, engine)
        engine.dispose()
        views.append({k: v for k, v in tables.items() if k.startswith("contracts_")})
    assert views[0] == views[1]
    # Bitemporal rows: the value as signed, then as amended.
    values = {
        r["value_eur"] for r in views[0][f"contracts_v{ContractsProjection.version}_contracts"]
    }
    assert values == {"1000000.10", "1250000.50"}


def _amended() -> dict[str, Any]:
    return {"contract_id": "c1", "amended_on": "2017-06-01", "summary": "meer data"}


def _call_off(**value: Any) -> dict[str, Any]:
    return {
        "call_off_id": "co1",
        "framework_contract_id": "fw",
        "tender_id": "t",
        "lot_id": "voice",
        "participant_code": "GM0363",
        "supplier_id": KPN,
        "awarded_on": date(2020, 1, 1).isoformat(),
        "procedure": "direct",
        "start_date": "2020-01-01",
        "end_date": "2021-01-01",
        **value,
    }
