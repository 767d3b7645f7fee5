"""A small demo history from DOMAIN.md's facts, loaded through the commands.

Every command has a fixed id, so loading again is a no-op (the services answer `duplicate`).
Valid times are the historical dates; the registry records them as learned now. One contract
ends three months after the day the demo is first loaded (the Veilig Thuis telephony), so
the expiry schedule has something to warn of whatever the date; a later load finds it signed.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bootstrap import reference_data
from contracts_schema.base import Command
from contracts_schema.calendar import dutch_day
from contracts_schema.enrolment import commands as en
from contracts_schema.registry import commands as rg
from contracts_schema.registry.values import ContractSupplier, Lot
from contracts_schema.replies import CommandAccepted
from gateway.commandbus import CommandBus

VNG, LNVT = "KVK-40409352", "KVK-71804145"
KPN, TELE2, TMOBILE, VODAFONE = "KVK-02045200", "KVK-33292243", "KVK-14055944", "KVK-14052264"
SUPPLIERS = {
    KPN: "KPN B.V.",
    TELE2: "Tele2 Nederland B.V.",
    TMOBILE: "T-Mobile Netherlands B.V.",
    VODAFONE: "Vodafone Libertel B.V.",
}
GT_PARTICIPANTS = ("GM0363", "GM0518", "GM0599", "GM0772", "GM0160")  # GT's founding cities
# The contract that ends three months after the first load: its dates depend on that day, so
# a later load sends other dates under the same command id, which the service refuses as
# COMMAND_ID_REUSED; the contract is there all the same.
ROLLING, ROLLING_CONTRACT = "demo-sign-vt", "vt-0800-2000-telephony"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def months_after(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def history(today: date) -> Iterator[Command]:
    # The deployment's reference data (a no-op duplicate where it was loaded already).
    yield reference_data.shipped_list().load_command()
    # Every organisation a command names is registered first (ORGANISATION_UNKNOWN otherwise).
    for code, name in ((VNG, "Vereniging van Nederlandse Gemeenten"), (LNVT, "LNVT")):
        yield en.RegisterOrganisation(
            command_id=f"demo-register-{code}", code=code, name=name, kind="association"
        )
    for code, name in SUPPLIERS.items():
        yield en.RegisterOrganisation(
            command_id=f"demo-register-{code}", code=code, name=name, kind="supplier"
        )
    yield rg.PlanProgramme(
        command_id="demo-programme-gt",
        occurred_at=at(date(2015, 1, 5)),
        programme_id="GT",
        name="Gemeentelijke Telecommunicatie",
        coordinator=VNG,
        description="Joint telecom procurement of Amsterdam, The Hague, Eindhoven, Rotterdam,"
        " Ommen-Hardenberg, VNG and KING.",
    )
    yield from gt_mobile()
    yield from veilig_thuis(today)


# The day the demo's organisations are dated back to: before its first fact (2015-01-05).
EXISTED_BY = date(2015, 1, 2)


def dated_back() -> Iterator[Command]:
    """Each organisation the history names, registered again as existing by EXISTED_BY.

    They are registered on the day of the first load (the reference list, the commands
    above), so without this an `asOf` in the demo's years found no contracting authority,
    participant or supplier organisation (docs/valid-time.md: dating a registration back).
    Sent after the history, under ids of their own: a data directory loaded before takes
    them as new commands.
    """
    province = {row.code: row.province for row in reference_data.shipped_list().rows()}
    names = {row.code: row.name for row in reference_data.shipped_list().rows()}
    bodies: list[tuple[str, str, str, str | None]] = [
        (VNG, "Vereniging van Nederlandse Gemeenten", "association", None),
        (LNVT, "LNVT", "association", None),
        *((code, name, "supplier", None) for code, name in SUPPLIERS.items()),
        *((code, names[code], "municipality", province[code]) for code in GT_PARTICIPANTS),
    ]
    for code, name, kind, in_province in bodies:
        yield en.RegisterOrganisation(
            command_id=f"demo-dated-back-{code}",
            occurred_at=at(EXISTED_BY),
            code=code,
            name=name,
            kind=kind,
            province=in_province,
        )


def gt_mobile() -> Iterator[Command]:
    tender = "gt-mc1"
    yield rg.PlanTender(
        command_id="demo-plan-gt-mc1",
        occurred_at=at(date(2015, 1, 15)),
        tender_id=tender,
        programme_id="GT",
        title="GT Mobiele Communicatie 1",
        contracting_authority=VNG,
        procedure="open",
        framework=True,
        lots=[Lot(lot_id="mobile", title="Mobiele communicatie")],
    )
    yield en.OpenEnrolmentWindow(
        command_id="demo-window-gt-mc1",
        occurred_at=at(date(2015, 2, 1)),
        tender_id=tender,
        lot_ids=["mobile"],
        opens_on=date(2015, 2, 1),
        closes_on=date(2015, 5, 31),
    )
    for i, code in enumerate(GT_PARTICIPANTS):
        yield en.EnrolParticipant(
            command_id=f"demo-enrol-gt-mc1-{code}",
            occurred_at=at(date(2015, 3, 1 + i)),
            tender_id=tender,
            organisation_code=code,
            lot_ids=["mobile"],
            power_of_attorney_ref=f"VOLMACHT-2015-{code}",
        )
    yield en.CloseEnrolmentWindow(
        command_id="demo-close-gt-mc1", occurred_at=at(date(2015, 5, 31)), tender_id=tender
    )
    yield rg.PublishTender(
        command_id="demo-publish-gt-mc1",
        occurred_at=at(date(2015, 6, 15)),
        tender_id=tender,
        notice_reference="TenderNed 2015-GT-MC1",
    )
    suppliers = [KPN, TELE2, TMOBILE, VODAFONE]
    yield rg.RecordBids(
        command_id="demo-bids-gt-mc1",
        occurred_at=at(date(2015, 8, 3)),
        tender_id=tender,
        lot_id="mobile",
        bid_count=4,
        bidder_ids=suppliers,
    )
    yield rg.DecideProvisionalAward(
        command_id="demo-provisional-gt-mc1",
        occurred_at=at(date(2015, 10, 1)),
        tender_id=tender,
        lot_id="mobile",
        supplier_ids=suppliers,
    )
    yield rg.MakeAwardDefinitive(
        command_id="demo-definitive-gt-mc1",
        occurred_at=at(date(2015, 11, 2)),
        tender_id=tender,
        lot_id="mobile",
    )
    names = {KPN: "KPN", TELE2: "Tele2", TMOBILE: "T-Mobile", VODAFONE: "Vodafone"}
    yield rg.SignContract(
        command_id="demo-sign-gt-mc1",
        occurred_at=at(date(2015, 12, 1)),
        contract_id="gt-mc1-framework",
        kind="framework",
        title="Raamovereenkomst GT Mobiele Communicatie 1",
        tender_id=tender,
        lot_ids=["mobile"],
        contracting_authority=VNG,
        suppliers=[
            ContractSupplier(supplier_id=s, name=names[s], lot_ids=["mobile"]) for s in suppliers
        ],
        start_date=date(2016, 1, 15),
        end_date=date(2019, 1, 14),
        max_extent_date=date(2022, 1, 14),
        value_eur=100_000_000,
        duration_rationale="Six years to recover the migration of 283 participants.",
    )
    for i, (code, supplier) in enumerate((("GM0363", KPN), ("GM0518", VODAFONE))):
        yield en.AwardCallOff(
            command_id=f"demo-call-off-{code}",
            occurred_at=at(date(2016, 2, 1 + i)),
            call_off_id=f"gt-mc1-{code}",
            framework_contract_id="gt-mc1-framework",
            lot_id="mobile",
            participant_code=code,
            supplier_id=supplier,
            procedure="direct",
            awarded_on=date(2016, 2, 1 + i),
            start_date=date(2016, 3, 1),
            end_date=date(2021, 12, 31),
        )


def veilig_thuis(today: date) -> Iterator[Command]:
    tender = "vt-0800-2000"
    yield rg.PlanTender(
        command_id="demo-plan-vt",
        occurred_at=at(date(2020, 8, 20)),
        tender_id=tender,
        title="0800-2000 Veilig Thuis",
        contracting_authority=LNVT,
        procedure="open",
        framework=False,
        lots=[Lot(lot_id="telephony", title="0800-2000 telefonie, 24/7")],
    )
    yield en.OpenEnrolmentWindow(
        command_id="demo-window-vt",
        occurred_at=at(date(2020, 8, 21)),
        tender_id=tender,
        lot_ids=["telephony"],
        opens_on=date(2020, 8, 21),
        closes_on=date(2020, 9, 15),
    )
    yield en.EnrolParticipant(
        command_id="demo-enrol-vt-GM0518",
        occurred_at=at(date(2020, 8, 25)),
        tender_id=tender,
        organisation_code="GM0518",
        lot_ids=["telephony"],
        power_of_attorney_ref="VOLMACHT-2020-KASSIER",
    )
    yield en.CloseEnrolmentWindow(
        command_id="demo-close-vt", occurred_at=at(date(2020, 9, 15)), tender_id=tender
    )
    yield rg.PublishTender(
        command_id="demo-publish-vt",
        occurred_at=at(date(2020, 9, 18)),
        tender_id=tender,
        notice_reference="TenderNed 2020-0800-2000",
    )
    yield rg.RecordBids(
        command_id="demo-bids-vt",
        occurred_at=at(date(2020, 10, 20)),
        tender_id=tender,
        lot_id="telephony",
        bid_count=2,
    )
    yield rg.DecideProvisionalAward(
        command_id="demo-provisional-vt",
        occurred_at=at(date(2020, 11, 13)),
        tender_id=tender,
        lot_id="telephony",
        supplier_ids=[KPN],
    )
    yield rg.MakeAwardDefinitive(
        command_id="demo-definitive-vt",
        occurred_at=at(date(2020, 12, 4)),
        tender_id=tender,
        lot_id="telephony",
    )
    yield rg.SignContract(
        command_id=ROLLING,
        occurred_at=at(date(2020, 12, 15)),
        contract_id=ROLLING_CONTRACT,
        kind="contract",
        title="0800-2000 Veilig Thuis telefonie",
        tender_id=tender,
        lot_ids=["telephony"],
        contracting_authority=LNVT,
        suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["telephony"])],
        start_date=date(2021, 1, 1),
        end_date=months_after(today, 3),  # its 3-month warning falls due on the load day
    )


@dataclass
class DemoLoad:
    new: int = 0
    known: int = 0
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def consistency_token(self) -> str:
        """Wait for this and every read model includes the whole demo history."""
        return ",".join(f"{stream}:{seq}" for stream, seq in sorted(self.positions.items()))


async def load_demo(bus: CommandBus, say: object = print, today: date | None = None) -> DemoLoad:
    """Send the history; a refusal is reported, not fatal."""
    load = DemoLoad()
    for command in [*history(today or dutch_day(datetime.now(UTC))), *dated_back()]:
        reply = await bus.send(command, "coordinator:demo")
        if isinstance(reply, CommandAccepted):
            for event in reply.events:
                load.positions[event.stream] = max(load.positions.get(event.stream, 0), event.seq)
            if reply.duplicate:
                load.known += 1
            else:
                load.new += 1
        elif reply.code == "COMMAND_ID_REUSED" and command.command_id == ROLLING:
            load.known += 1  # signed on the day of the first load, with that day's dates
        else:
            say(f"demo: {command.command_type} refused: {reply.code}: {reply.message}")  # type: ignore[operator]
    return load
