"""Call-offs read the registry's framework facts (its contract aggregate, folded).

Registry events are recorded directly on the REGISTRY stream here (standing in for the
registry service), so extensions and terminations can be shown on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.enrolment.commands import (
    AwardCallOff,
    CloseEnrolmentWindow,
    EnrolParticipant,
    LoadMunicipalities,
    MergeMunicipality,
    OpenEnrolmentWindow,
    RegisterOrganisation,
)
from contracts_schema.registry.events import (
    ContractExtended,
    ContractSigned,
    ContractTerminated,
    TenderPlanned,
)
from contracts_schema.registry.values import ContractSupplier, Lot
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.enrolment.support import (
    accepted,
    enrolment_service,
    record_fact,
    rejected,
)

KING, KPN, VODAFONE = "KVK-27367698", "KVK-02045200", "KVK-14052240"
TEXT = (
    "cbs_code,name,province\nGM0363,Amsterdam,Noord-Holland\nGM0599,Rotterdam,Zuid-Holland\n"
    "GM0175,Ommen,Overijssel\nGM0160,Hardenberg,Overijssel\n"
)


@pytest.fixture
async def service(
    nats_server: NatsServer, database_url: str, fixed_clock: FixedClock
) -> AsyncIterator[None]:
    async with enrolment_service(nats_server.url, database_url, fixed_clock):
        yield


def signed(contract_id: str, end: date) -> ContractSigned:
    return ContractSigned(
        contract_id=contract_id,
        kind="framework",
        tender_id="gt-vast",
        lot_ids=["fixed", "mobile"],
        contracting_authority=KING,
        suppliers=[
            ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["fixed"]),
            ContractSupplier(supplier_id=VODAFONE, name="Vodafone", lot_ids=["mobile"]),
        ],
        signed_on=date(2017, 1, 5),
        start_date=date(2017, 2, 1),
        end_date=end,
    )


def call_off(call_off_id: str, framework: str, on: date, **changes: object) -> AwardCallOff:
    fields: dict[str, object] = {
        "command_id": call_off_id,
        "call_off_id": call_off_id,
        "framework_contract_id": framework,
        "lot_id": "fixed",
        "participant_code": "GM0363",
        "supplier_id": KPN,
        "procedure": "direct",
        "awarded_on": on,
        "start_date": on,
        "end_date": date(2023, 1, 31),
    }
    return AwardCallOff.model_validate({**fields, **changes})


async def test_call_off_rules_follow_the_registry_facts(
    service: None, nats_client: NATS, event_store: EventStore
) -> None:
    nc = nats_client
    await record_fact(
        event_store,
        "gt-vast",
        TenderPlanned(
            tender_id="gt-vast",
            title="GT Vaste Communicatie",
            contracting_authority=KING,
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="fixed", title="Vast"), Lot(lot_id="mobile", title="Mobiel")],
            planned_on=date(2016, 6, 1),
        ),
    )
    await accepted(nc, LoadMunicipalities(command_id="load", csv_text=TEXT))
    for code, name in ((KPN, "KPN B.V."), (VODAFONE, "Vodafone Libertel B.V.")):
        register = RegisterOrganisation(
            command_id=f"reg-{code}", code=code, name=name, kind="supplier"
        )
        await accepted(nc, register)
    await accepted(
        nc,
        OpenEnrolmentWindow(
            command_id="open",
            tender_id="gt-vast",
            lot_ids=["fixed", "mobile"],
            opens_on=date(2016, 7, 1),
            closes_on=date(2016, 9, 1),
        ),
    )
    await accepted(
        nc,
        EnrolParticipant(
            command_id="enrol",
            tender_id="gt-vast",
            organisation_code="GM0363",
            lot_ids=["fixed"],
            power_of_attorney_ref="V-17",
            enrolled_on=date(2016, 8, 1),
        ),
    )
    await accepted(
        nc,
        EnrolParticipant(
            command_id="enrol-ommen",
            tender_id="gt-vast",
            organisation_code="GM0175",
            lot_ids=["fixed"],
            power_of_attorney_ref="V-18",
            enrolled_on=date(2016, 8, 2),
        ),
    )
    await accepted(
        nc,
        CloseEnrolmentWindow(command_id="close", tender_id="gt-vast", frozen_on=date(2016, 9, 2)),
    )
    await record_fact(event_store, "gt-vast-a", signed("gt-vast-a", date(2019, 1, 31)))
    await record_fact(event_store, "gt-vast-b", signed("gt-vast-b", date(2021, 1, 31)))

    ended = await rejected(nc, call_off("c1", "gt-vast-a", date(2019, 6, 1)))
    assert ended.code == "FRAMEWORK_ENDED"
    # The registry extends framework A: the same call-off now lands (its own end is later).
    await record_fact(
        event_store,
        "gt-vast-a",
        ContractExtended(
            contract_id="gt-vast-a",
            new_end_date=date(2020, 1, 31),
            previous_end_date=date(2019, 1, 31),
            extended_on=date(2018, 12, 1),
        ),
    )
    await accepted(nc, call_off("c2", "gt-vast-a", date(2019, 6, 1)))
    # Framework B is terminated early.
    await record_fact(
        event_store,
        "gt-vast-b",
        ContractTerminated(
            contract_id="gt-vast-b",
            terminated_on=date(2019, 3, 1),
            reason="supplier stopped the service",
        ),
    )
    terminated = await rejected(nc, call_off("c3", "gt-vast-b", date(2019, 6, 1)))
    assert terminated.code == "FRAMEWORK_TERMINATED"
    outsider = await rejected(
        nc, call_off("c4", "gt-vast-a", date(2018, 1, 1), participant_code="GM0599")
    )
    assert outsider.code == "NOT_A_PARTICIPANT"
    wrong_lot = await rejected(
        nc, call_off("c5", "gt-vast-a", date(2018, 1, 1), supplier_id=VODAFONE)
    )
    assert wrong_lot.code == "SUPPLIER_NOT_ON_FRAMEWORK_LOT"
    # Ommen merges into Hardenberg: Hardenberg inherits Ommen's place on the frozen list.
    await accepted(
        nc,
        MergeMunicipality(
            command_id="merge",
            code="GM0175",
            successor_code="GM0160",
            effective_on=date(2018, 1, 1),
        ),
    )
    merged = await rejected(
        nc, call_off("c7", "gt-vast-a", date(2018, 2, 1), participant_code="GM0175")
    )
    assert merged.code == "ORGANISATION_MERGED"
    await accepted(nc, call_off("c8", "gt-vast-a", date(2018, 2, 1), participant_code="GM0160"))
    unknown = await rejected(nc, call_off("c6", "nope", date(2018, 1, 1)))
    assert unknown.code == "FRAMEWORK_NOT_FOUND"
