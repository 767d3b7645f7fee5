"""Commands of a joint tender, from planning to a framework with call-offs (illustrative codes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.enrolment.commands import (
    AwardCallOff,
    CloseEnrolmentWindow,
    EnrolParticipant,
    LoadMunicipalities,
    OpenEnrolmentWindow,
    RegisterOrganisation,
)
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import ContractSupplier, Lot
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import Clock
from eventstore.ports import EventStorePort
from tests.service.bus import InProcessBus

LNVT, KPN, VODAFONE = "KVK-71830960", "KVK-27124701", "KVK-14052264"
MUNICIPALITIES = (
    "cbs_code,name,province\nGM0363,Amsterdam,Noord-Holland\nGM0599,Rotterdam,Zuid-Holland\n"
)


PARTIES = {LNVT: "Logius / LNVT", KPN: "KPN B.V.", VODAFONE: "Vodafone Libertel B.V."}


async def register_parties(bus: InProcessBus) -> None:
    """The organisations the stories name, registered first (ORGANISATION_UNKNOWN otherwise):
    the contracting authority and the suppliers, and the municipalities from the CBS list."""
    await bus.accept(LoadMunicipalities(command_id="load", csv_text=MUNICIPALITIES))
    for code, name in PARTIES.items():
        kind = "supplier" if code != LNVT else "zbo"
        await bus.accept(
            RegisterOrganisation(command_id=f"register-{code}", code=code, name=name, kind=kind)
        )


async def bus_on(store: EventStorePort, clock: Clock) -> InProcessBus:
    """The registry and enrolment services over `store` (its streams made), sealing with
    `clock`, as the system wires them, with the stories' parties registered."""
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    await register_parties(bus)
    return bus


def on(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def plan(tender_id: str = "gt-connect") -> cmd.PlanTender:
    return cmd.PlanTender(
        command_id=f"{tender_id}-plan",
        tender_id=tender_id,
        title="GT Connect",
        contracting_authority=LNVT,
        procedure="open",
        framework=True,
        lots=[Lot(lot_id="voice", title="Voice"), Lot(lot_id="data", title="Data")],
        occurred_at=on(date(2019, 1, 10)),
    )


def publish(tender_id: str = "gt-connect", attempt: str = "1") -> cmd.PublishTender:
    return cmd.PublishTender(
        command_id=f"{tender_id}-pub-{attempt}",
        tender_id=tender_id,
        notice_reference="TenderNed 1",
        occurred_at=on(date(2019, 6, 1)),
    )


async def plan_under_gt(bus: InProcessBus) -> None:
    """Programme GT (Amsterdam coordinating, planned 2018-01-01) and `plan()`'s tender under
    it: what a programme's participation counts."""
    await bus.accept(
        cmd.PlanProgramme(
            command_id="gt", programme_id="GT", name="Gemeentelijke Telecommunicatie",
            coordinator="GM0363", occurred_at=on(date(2018, 1, 1)),
        )
    )  # fmt: skip
    await bus.accept(plan().model_copy(update={"programme_id": "GT"}))


async def freeze(
    bus: InProcessBus,
    tender_id: str = "gt-connect",
    others: dict[str, list[str]] | None = None,
) -> None:
    """The enrolment service freezes the list: Amsterdam enrols for both lots (and `others`,
    organisation code -> lots, for theirs)."""
    await bus.accept(LoadMunicipalities(command_id="load", csv_text=MUNICIPALITIES))
    await bus.accept(
        OpenEnrolmentWindow(
            command_id=f"{tender_id}-open",
            tender_id=tender_id,
            lot_ids=["voice", "data"],
            opens_on=date(2019, 2, 1),
            closes_on=date(2019, 4, 30),
            occurred_at=on(date(2019, 1, 20)),
        )
    )
    await bus.accept(
        EnrolParticipant(
            command_id=f"{tender_id}-enrol",
            tender_id=tender_id,
            organisation_code="GM0363",
            lot_ids=["voice", "data"],
            power_of_attorney_ref="V-1",
            enrolled_on=date(2019, 3, 1),
        )
    )
    for code, lots in (others or {}).items():
        await bus.accept(
            EnrolParticipant(
                command_id=f"{tender_id}-enrol-{code}",
                tender_id=tender_id,
                organisation_code=code,
                lot_ids=lots,
                power_of_attorney_ref=f"V-{code}",
                enrolled_on=date(2019, 3, 1),
            )
        )
    await bus.accept(
        CloseEnrolmentWindow(
            command_id=f"{tender_id}-close", tender_id=tender_id, frozen_on=date(2019, 5, 1)
        )
    )


async def tender_with_window(
    bus: InProcessBus,
    closes_on: date,
    *,
    planned_on: date = date(2019, 1, 10),
    opens_on: date = date(2019, 1, 15),
    opened_on: date | None = None,
) -> None:
    """Tender t1 (LNVT's, open, one lot "a", no framework) planned on `planned_on`, and its
    enrolment window open from `opens_on` until `closes_on`, opened on `opened_on` (by
    default the day it opens)."""
    await bus.accept(
        cmd.PlanTender(
            command_id="plan", tender_id="t1", title="Vaste telefonie",
            contracting_authority=LNVT, procedure="open", framework=False,
            lots=[Lot(lot_id="a", title="A")], occurred_at=on(planned_on),
        )
    )  # fmt: skip
    await bus.accept(
        OpenEnrolmentWindow(
            command_id="open", tender_id="t1", lot_ids=["a"], opens_on=opens_on,
            closes_on=closes_on, occurred_at=on(opened_on or opens_on),
        )
    )  # fmt: skip


# A plain contract c1 of LNVT with KPN, signed 2020-03-10 (the backdating and clock stories).
SIGN_C1 = cmd.SignContract(
    command_id="sign", contract_id="c1", kind="contract", contracting_authority=LNVT,
    suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=[])],
    start_date=date(2020, 4, 1), end_date=date(2022, 3, 31),
    max_extent_date=date(2024, 3, 31), occurred_at=on(date(2020, 3, 10)),
)  # fmt: skip


async def signed_contract(bus: InProcessBus) -> None:
    await bus.accept(SIGN_C1)


def sign_framework(contract_id: str = "gt-connect-fw", **changes: object) -> cmd.SignContract:
    fields: dict[str, object] = {
        "command_id": f"{contract_id}-sign",
        "contract_id": contract_id,
        "kind": "framework",
        "tender_id": "gt-connect",
        "lot_ids": ["voice", "data"],
        "contracting_authority": LNVT,
        "suppliers": [
            ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["voice"]),
            ContractSupplier(supplier_id=VODAFONE, name="Vodafone", lot_ids=["data"]),
        ],
        "start_date": date(2019, 10, 1),
        "end_date": date(2023, 9, 30),
        "occurred_at": on(date(2019, 9, 15)),
    }
    return cmd.SignContract.model_validate({**fields, **changes})


def call_off(call_off_id: str, awarded_on: date, **changes: object) -> AwardCallOff:
    fields: dict[str, object] = {
        "command_id": call_off_id,
        "call_off_id": call_off_id,
        "framework_contract_id": "gt-connect-fw",
        "lot_id": "voice",
        "participant_code": "GM0363",
        "supplier_id": KPN,
        "procedure": "direct",
        "awarded_on": awarded_on,
        "start_date": awarded_on,
        "end_date": date(2023, 1, 31),
    }
    return AwardCallOff.model_validate({**fields, **changes})


async def award(bus: InProcessBus, lot: str, supplier: str, tender_id: str = "gt-connect") -> None:
    """Bids, a provisional award, the standstill and the definitive award of one lot."""
    steps: list[cmd.LotCommand] = [
        cmd.RecordBids(
            command_id=f"{tender_id}-{lot}-bids",
            tender_id=tender_id,
            lot_id=lot,
            bid_count=2,
            bidder_ids=[KPN, VODAFONE],
            occurred_at=on(date(2019, 7, 1)),
        ),
        cmd.DecideProvisionalAward(
            command_id=f"{tender_id}-{lot}-award",
            tender_id=tender_id,
            lot_id=lot,
            supplier_ids=[supplier],
            occurred_at=on(date(2019, 8, 1)),
        ),
        cmd.RecordStandstillEnded(
            command_id=f"{tender_id}-{lot}-standstill",
            tender_id=tender_id,
            lot_id=lot,
            occurred_at=on(date(2019, 8, 22)),
        ),
        cmd.MakeAwardDefinitive(
            command_id=f"{tender_id}-{lot}-final",
            tender_id=tender_id,
            lot_id=lot,
            occurred_at=on(date(2019, 9, 1)),
        ),
    ]
    for step in steps:
        await bus.accept(step)


async def framework_signed(bus: InProcessBus, others: dict[str, list[str]] | None = None) -> None:
    """The whole story up to a signed framework agreement for both lots."""
    await bus.accept(plan())
    await freeze(bus, others=others)
    await bus.accept(publish())
    await award(bus, "voice", KPN)
    await award(bus, "data", VODAFONE)
    await bus.accept(sign_framework())
