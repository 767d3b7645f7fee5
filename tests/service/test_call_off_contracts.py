"""A call-off concluded with AwardCallOff is a contract everywhere a contract is: `contract`,
`contracts(kind: CALL_OFF)`, filters, `expiringContracts`, statistics, as-of, and OCDS as
its own process. AwardCallOff is the one entry point; the rules it holds refuse by code.

The story: GT Connect, a framework with lots voice (KPN) and data (Vodafone); Amsterdam
enrolled for both lots, Rotterdam only for data; the list frozen before publication.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from audit.bitemporal import Horizon
from audit.ocds.export import gather, packages
from bootstrap.parts import command_service, projection_runner
from contracts_schema.enrolment.commands import RegisterOrganisation
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import ContractSupplier
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from notifier.db import notifier_engine
from notifier.domain.schedule import ExpiryPolicy
from notifier.projection import NotifierSchedule
from notifier.routes import INTERNAL_COMMANDS
from notifier.ticker import ExpiryTicker
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import KPN, VODAFONE, call_off, framework_signed, on

ROTTERDAM_DATA_ONLY = {"GM0599": ["data"]}

CONTRACT = """query ($id: String!, $asOf: Date) {
  contract(contractId: $id, asOf: $asOf) {
    contractId kind status frameworkContractId tenderId lotIds contractingAuthorityCode
    signedOn startDate endDate valueEur
    suppliers { supplierId name lotIds }
    participants { organisationCode }
    callOff { procedure participantCode }
  }
}"""
CALL_OFFS = """query ($buyer: String) {
  contracts(filter: {kind: [CALL_OFF], buyer: $buyer}) { totalCount nodes { contractId } }
}"""
EXPIRING = """query {
  expiringContracts(from: "2023-01-01", to: "2023-03-31") { nodes { contractId kind } }
}"""
STATISTICS = """query { statistics { contractsByKind { key contracts totalValueEur } } }"""
PARTICIPANTS = """query {
  contract(contractId: "gt-connect-fw") { participants { organisationCode lotIds } }
}"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> AsyncIterator[Gateway]:
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        yield g
    finally:
        await g.stop()


async def ask(g: Gateway, text: str, **variables: Any) -> Any:
    assert g.read is not None
    for runner in g.runners:  # read your writes: every stored event applied
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    body = await g.query(text, variables, token=g.token("coordinator"))
    assert "errors" not in body, body
    return body["data"]


def awarded(call_off_id: str, day: date, **changes: object) -> Any:
    return call_off(call_off_id, day, occurred_at=on(day), value_eur=48_000, **changes)


async def test_a_call_off_awarded_with_the_one_command_is_a_contract_everywhere(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    await bus.accept(awarded("co-ams-voice", date(2020, 3, 1)))

    contract = (await ask(gateway, CONTRACT, id="co-ams-voice"))["contract"]
    assert contract == {
        "contractId": "co-ams-voice",
        "kind": "CALL_OFF",
        "status": "ACTIVE",
        "frameworkContractId": "gt-connect-fw",
        "tenderId": "gt-connect",
        "lotIds": ["voice"],
        "contractingAuthorityCode": "GM0363",
        "signedOn": "2020-03-01",
        "startDate": "2020-03-01",
        "endDate": "2023-01-31",
        "valueEur": "48000.00",
        "suppliers": [{"supplierId": KPN, "name": "KPN", "lotIds": ["voice"]}],
        "participants": [{"organisationCode": "GM0363"}],
        "callOff": {"procedure": "DIRECT", "participantCode": "GM0363"},
    }
    # Valid time: not yet concluded the day before its award.
    before = await ask(gateway, CONTRACT, id="co-ams-voice", asOf="2020-02-29")
    assert before["contract"] is None

    listed = (await ask(gateway, CALL_OFFS))["contracts"]
    assert (listed["totalCount"], listed["nodes"]) == (1, [{"contractId": "co-ams-voice"}])
    # The buyer filter: Amsterdam's call-off is Amsterdam's, not every participant's.
    assert (await ask(gateway, CALL_OFFS, buyer="GM0363"))["contracts"]["totalCount"] == 1
    assert (await ask(gateway, CALL_OFFS, buyer="GM0599"))["contracts"]["totalCount"] == 0

    # Ends 2023-01-31, within Q1 2023; the framework (ends 2023-09-30) is not.
    expiring = (await ask(gateway, EXPIRING))["expiringContracts"]["nodes"]
    assert expiring == [{"contractId": "co-ams-voice", "kind": "CALL_OFF"}]

    by_kind = (await ask(gateway, STATISTICS))["statistics"]["contractsByKind"]
    totals = {k["key"]: (k["contracts"], Decimal(k["totalValueEur"])) for k in by_kind}
    assert totals["call_off"] == (1, Decimal(48_000))


async def test_a_call_off_is_its_own_ocds_process_related_to_its_framework(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    await bus.accept(awarded("co-ams-voice", date(2020, 3, 1)))
    at = Horizon(datetime.now(UTC), datetime.now(UTC))
    exported = await gather(store, "gt-connect", at)  # type: ignore[arg-type]
    records = packages(exported, "gt-connect", at.known_at)["record_package"]["records"]
    by_ocid = {r["ocid"]: r["compiledRelease"] for r in records}
    release = by_ocid["ocds-gtnl01-co-ams-voice"]
    assert release["relatedProcesses"][0]["relationship"] == ["framework"]
    assert release["relatedProcesses"][0]["identifier"] == "ocds-gtnl01-gt-connect"
    [contract] = release["contracts"]
    assert (contract["id"], contract["period"]["endDate"][:10]) == ("co-ams-voice", "2023-01-31")
    assert release["buyer"]["id"] == "GM0363"


async def test_a_framework_s_participants_are_those_of_the_lots_it_covers(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    both = (await ask(gateway, PARTICIPANTS))["contract"]["participants"]
    assert [p["organisationCode"] for p in both] == ["GM0363", "GM0599"]
    # A framework for the voice lot alone: Rotterdam (data only) takes no part in it.
    await bus.accept(
        cmd.SignContract(
            command_id="voice-fw-sign",
            contract_id="gt-connect-voice",
            kind="framework",
            tender_id="gt-connect",
            lot_ids=["voice"],
            contracting_authority="KVK-71830960",
            suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["voice"])],
            start_date=date(2019, 10, 1),
            end_date=date(2023, 9, 30),
            occurred_at=on(date(2019, 9, 15)),
        )
    )
    voice = await ask(gateway, PARTICIPANTS.replace("gt-connect-fw", "gt-connect-voice"))
    assert voice["contract"]["participants"] == [
        {"organisationCode": "GM0363", "lotIds": ["data", "voice"]}
    ]


async def test_call_offs_outside_the_rules_are_refused_with_their_code(bus: InProcessBus) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    day = date(2020, 3, 1)
    # Given Rotterdam enrolled for data only, when it calls off voice: not a participant there.
    other_lot = await bus.reject(
        awarded("co-rdam-voice", day, participant_code="GM0599"), "NOT_A_PARTICIPANT"
    )
    assert "lot voice" in other_lot.message
    # Given a body never enrolled (a province, registered but never on the list).
    province = "KVK-12345678"
    await bus.reject(awarded("co-unknown", day, participant_code=province), "ORGANISATION_UNKNOWN")
    await bus.accept(
        RegisterOrganisation(command_id="reg-province", code=province, name="P", kind="province")
    )
    await bus.reject(awarded("co-province", day, participant_code=province), "NOT_A_PARTICIPANT")
    # Given Vodafone is the framework's supplier for data only.
    await bus.reject(
        awarded("co-ams-vodafone", day, supplier_id=VODAFONE), "SUPPLIER_NOT_ON_FRAMEWORK_LOT"
    )
    # Rotterdam may call off data, from Vodafone.
    await bus.accept(
        awarded("co-rdam-data", day, participant_code="GM0599", lot_id="data", supplier_id=VODAFONE)
    )


async def test_sign_contract_is_no_second_entry_point_for_call_offs(bus: InProcessBus) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    groningen = RegisterOrganisation(
        command_id="reg-gm0014", code="GM0014", name="Groningen", kind="municipality"
    )
    await bus.accept(groningen)
    # The route the issue found open: a never-enrolled body, a supplier off the lot.
    refused = await bus.reject(
        cmd.SignContract(
            command_id="side-door",
            contract_id="co-side-door",
            kind="call_off",
            framework_contract_id="gt-connect-fw",
            lot_ids=["voice"],
            contracting_authority="GM0014",
            suppliers=[ContractSupplier(supplier_id=VODAFONE, name="Vodafone", lot_ids=["voice"])],
            start_date=date(2020, 3, 1),
            end_date=date(2023, 1, 31),
            occurred_at=on(date(2020, 3, 1)),
        ),
        "CALL_OFF_REQUIRES_AWARD_CALL_OFF",
    )
    assert "awardCallOff" in refused.message
    # One id space: a call-off id is not free for a registry contract, nor the reverse.
    await bus.accept(awarded("co-ams-voice", date(2020, 3, 1)))
    plain = cmd.SignContract(
        command_id="plain-sign",
        contract_id="co-ams-voice",
        kind="contract",
        contracting_authority="GM0363",
        suppliers=[ContractSupplier(supplier_id=KPN, name="KPN")],
        start_date=date(2020, 3, 1),
        end_date=date(2021, 3, 1),
        occurred_at=on(date(2020, 3, 1)),
    )
    await bus.reject(plain, "CONTRACT_ID_TAKEN")
    await bus.reject(awarded("gt-connect-fw", date(2020, 3, 1)), "CONTRACT_ID_TAKEN")


async def test_a_call_off_s_expiry_warning_goes_to_its_municipality(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> None:
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    await bus.accept(awarded("co-ams-voice", date(2020, 3, 1)))
    engine = notifier_engine(f"sqlite:///{tmp_path / 'notifier.db'}")
    projection = NotifierSchedule()
    runner = projection_runner(store, engine, projection)
    await runner.start()
    try:
        internal = command_service(INTERNAL_COMMANDS, store, clock)
        ticker = ExpiryTicker(internal, store, engine, projection, runner, ExpiryPolicy())  # type: ignore[arg-type]
        # Three months before the call-off ends on 2023-01-31.
        result = await ticker.tick(date(2022, 10, 31))
        mine = [w for w in result.raised if w.contract_id == "co-ams-voice"]
        assert [(w.contract_kind, w.stage, w.recipients) for w in mine] == [
            ("call_off", "3m", ("GM0363",))
        ]
    finally:
        await runner.stop()
        engine.dispose()


async def test_a_call_off_contract_is_seen_as_the_call_off_list_is(
    gateway: Gateway, bus: InProcessBus
) -> None:
    # As `callOffs`: the participant itself, coordinators and auditors; no notice is required
    # of a contract based on a framework (Directive 2014/24/EU art. 50(2)).
    await framework_signed(bus, ROTTERDAM_DATA_ONLY)
    await bus.accept(awarded("co-ams-voice", date(2020, 3, 1)))
    await ask(gateway, CALL_OFFS)  # settled
    one = """query { contract(contractId: "co-ams-voice") { contractId }
      contracts(filter: {kind: [CALL_OFF]}) { totalCount }
      statistics { contractsByKind { key } } }"""
    seen = {
        who: (await gateway.query(one, token=token))["data"]
        for who, token in (
            ("anonymous", None),
            ("amsterdam", gateway.token("participant", "GM0363")),
            ("rotterdam", gateway.token("participant", "GM0599")),
            ("auditor", gateway.token("auditor")),
        )
    }
    shown = {
        who: (
            data["contract"] is not None,
            data["contracts"]["totalCount"],
            "call_off" in [k["key"] for k in data["statistics"]["contractsByKind"]],
        )
        for who, data in seen.items()
    }
    assert shown == {
        "anonymous": (False, 0, False),
        "amsterdam": (True, 1, True),
        "rotterdam": (False, 0, False),
        "auditor": (True, 1, True),
    }
