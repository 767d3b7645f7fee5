"""A chain of mergers (Weesp into Amsterdam in 2020, Amsterdam into a new municipality in
2021), recorded in either order, is judged by the world of each merger's day, and every
reference resolves to the municipality acting on its own day.

Before: the merger of Weesp, recorded after Amsterdam's own merger of a later day, was refused
SUCCESSOR_MERGED although Amsterdam still existed on Weesp's merger day; and a fact naming
Weesp after both mergers was told to name Amsterdam, which no longer acted either.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.enrolment.commands import MergeMunicipality, RegisterOrganisation
from contracts_schema.registry import commands as cmd
from tests.service.bus import InProcessBus
from tests.service.story import call_off, framework_signed

WEESP, AMSTERDAM, AMSTELLAND = "GM0457", "GM0363", "GM1999"  # the last one fictional


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


def merger(code: str, successor: str, day: date) -> MergeMunicipality:
    return MergeMunicipality(
        command_id=f"merge-{code}", code=code, successor_code=successor, effective_on=day,
        occurred_at=at(day.year, day.month, day.day),
    )  # fmt: skip


async def chain_recorded_backwards(bus: InProcessBus) -> None:
    """The three registered in 2018, Weesp enrolled for voice, the framework signed; then
    Amsterdam's merger of 2021 recorded first, Weesp's of 2020 learned late."""
    for code, name in ((AMSTERDAM, "Amsterdam"), (WEESP, "Weesp"), (AMSTELLAND, "Amstelland")):
        await bus.accept(
            RegisterOrganisation(
                command_id=f"register-{code}-2018", code=code, name=name, kind="municipality",
                province="Noord-Holland", occurred_at=at(2018, 1, 1),
            )
        )  # fmt: skip
    await framework_signed(bus, others={WEESP: ["voice"]})
    await bus.accept(merger(AMSTERDAM, AMSTELLAND, date(2021, 1, 1)))
    await bus.accept(merger(WEESP, AMSTERDAM, date(2020, 1, 1)))


def transfer(command_id: str, day: datetime, to: str) -> cmd.TransferContract:
    return cmd.TransferContract(
        command_id=command_id, contract_id="gt-connect-fw", to_authority=to, occurred_at=day
    )


async def test_a_merger_into_a_successor_that_merged_away_later_is_accepted(
    bus: InProcessBus,
) -> None:
    await chain_recorded_backwards(bus)
    # Merging into a successor gone by the merger's own day is still refused, naming it.
    await bus.accept(
        RegisterOrganisation(
            command_id="register-diemen", code="GM0384", name="Diemen", kind="municipality",
            province="Noord-Holland", occurred_at=at(2018, 1, 1),
        )
    )  # fmt: skip
    refused = await bus.reject(merger("GM0384", AMSTERDAM, date(2021, 6, 1)), "SUCCESSOR_MERGED")
    assert f"name {AMSTELLAND}" in refused.message


async def test_references_resolve_to_the_municipality_acting_on_their_day(
    bus: InProcessBus,
) -> None:
    await chain_recorded_backwards(bus)
    # Between the mergers, Weesp's place is Amsterdam's.
    before = await bus.reject(
        transfer("to-weesp-2020", at(2020, 6, 1), WEESP), "ORGANISATION_MERGED"
    )
    assert f"name {AMSTERDAM}," in before.message
    # After both, Amstelland's, though Weesp merged into Amsterdam.
    after = await bus.reject(
        transfer("to-weesp-2021", at(2021, 6, 1), WEESP), "ORGANISATION_MERGED"
    )
    assert f"merged into {AMSTERDAM} on 2020-01-01" in after.message
    assert f"name {AMSTELLAND}," in after.message
    late = call_off("weesp-2021", date(2021, 6, 1), participant_code=WEESP)
    refused = await bus.reject(
        late.model_copy(update={"occurred_at": at(2021, 6, 1)}), "ORGANISATION_MERGED"
    )
    assert f"name {AMSTELLAND}," in refused.message
    # Amstelland calls off on the participation it took over through the chain, and the
    # framework passes to it.
    taken_over = call_off("amstelland-2021", date(2021, 6, 1), participant_code=AMSTELLAND)
    await bus.accept(taken_over.model_copy(update={"occurred_at": at(2021, 6, 1)}))
    await bus.accept(transfer("to-amstelland", at(2021, 6, 1), AMSTELLAND))
