"""user9: a municipality that merged away (Weesp into Amsterdam, 24 March 2022) acts itself
until the merger day and no longer after it, whatever order the facts are recorded in.

Before, the merger's recording decided, not its day: once recorded, Weesp's own 2020
call-off (entered late) was refused ORGANISATION_MERGED; and a contract was transferred *to*
Weesp in 2023, a year after it ceased to exist (the registry checked only that it was
registered).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.enrolment.commands import MergeMunicipality, RegisterOrganisation
from contracts_schema.registry import commands as cmd
from tests.service.bus import InProcessBus
from tests.service.story import call_off, framework_signed

WEESP, AMSTERDAM = "GM0457", "GM0363"


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def weesp_merged(bus: InProcessBus) -> None:
    """Weesp registered (2018), enrolled for voice, the framework signed; then the merger
    (Amsterdam's registration, from today's CBS list, dated back to before it)."""
    await bus.accept(
        RegisterOrganisation(
            command_id="amsterdam-2018", code=AMSTERDAM, name="Amsterdam", kind="municipality",
            province="Noord-Holland", occurred_at=at(2018, 1, 1),
        )
    )  # fmt: skip
    await bus.accept(
        RegisterOrganisation(
            command_id="weesp", code=WEESP, name="Weesp", kind="municipality",
            province="Noord-Holland", occurred_at=at(2018, 1, 1),
        )
    )  # fmt: skip
    await framework_signed(bus, others={WEESP: ["voice"]})
    await bus.accept(
        MergeMunicipality(
            command_id="merge-weesp", code=WEESP, successor_code=AMSTERDAM,
            effective_on=date(2022, 3, 24), occurred_at=at(2022, 3, 24),
        )
    )  # fmt: skip


def transfer(command_id: str, day: datetime, to: str = WEESP) -> cmd.TransferContract:
    return cmd.TransferContract(
        command_id=command_id, contract_id="gt-connect-fw", to_authority=to, occurred_at=day
    )


async def test_a_call_off_of_weesp_dated_before_its_merger_is_recorded_late(
    bus: InProcessBus,
) -> None:
    await weesp_merged(bus)
    late = call_off("weesp-2020", date(2020, 5, 20), participant_code=WEESP)
    await bus.accept(late.model_copy(update={"occurred_at": at(2020, 5, 20)}))


async def test_a_call_off_of_weesp_after_its_merger_names_the_successor(
    bus: InProcessBus,
) -> None:
    await weesp_merged(bus)
    after = call_off("weesp-2022", date(2022, 6, 1), participant_code=WEESP)
    refused = await bus.reject(
        after.model_copy(update={"occurred_at": at(2022, 6, 1)}), "ORGANISATION_MERGED"
    )
    assert AMSTERDAM in refused.message


async def test_no_transfer_to_a_municipality_that_merged_away(bus: InProcessBus) -> None:
    await weesp_merged(bus)
    refused = await bus.reject(transfer("to-weesp-2023", at(2023, 1, 3)), "ORGANISATION_MERGED")
    assert AMSTERDAM in refused.message
    assert "2022-03-24" in refused.message
    # To its successor, the same day: accepted.
    await bus.accept(transfer("to-amsterdam-2023", at(2023, 1, 3), to=AMSTERDAM))


async def test_a_transfer_to_it_dated_before_its_merger_is_accepted(bus: InProcessBus) -> None:
    await weesp_merged(bus)
    await bus.accept(transfer("to-weesp-2021", at(2021, 6, 1)))
