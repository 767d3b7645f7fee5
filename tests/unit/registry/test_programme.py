"""Programmes: planned with a predecessor, linked to successors (OT2006 -> OT2010 -> OT2017)."""

from __future__ import annotations

from datetime import date

from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from registry.domain.facts import KnownSuccessor
from tests.unit.registry.data import KING
from tests.unit.registry.gwt import PROGRAMME, given, on

OT2010 = ev.ProgrammePlanned(
    programme_id="OT2010",
    name="Overheidstelefonie 2010",
    coordinator=KING,
    planned_on=date(2009, 1, 5),
    predecessor_programme_id="OT2006",
)


def test_plan_programme_records_its_predecessor() -> None:
    events = given(PROGRAMME).when(
        cmd.PlanProgramme(
            command_id="p1",
            programme_id="OT2010",
            name="Overheidstelefonie 2010",
            coordinator=KING,
            predecessor_programme_id="OT2006",
            occurred_at=on(date(2009, 1, 5)),
        )
    )
    assert events == [OT2010]


def test_a_programme_is_planned_once() -> None:
    command = cmd.PlanProgramme(command_id="p2", programme_id="OT2010", name="x", coordinator=KING)
    given(PROGRAMME, OT2010).then_rejects(command, "PROGRAMME_ALREADY_PLANNED")


def test_a_programme_cannot_be_its_own_predecessor() -> None:
    command = cmd.PlanProgramme(
        command_id="p3",
        programme_id="GT",
        name="GT",
        coordinator=KING,
        predecessor_programme_id="GT",
    )
    given(PROGRAMME).then_rejects(command, "SELF_SUCCESSION")


def test_link_successor_programme() -> None:
    events = given(PROGRAMME, OT2010).when(
        cmd.LinkSuccessorProgramme(
            command_id="l1",
            programme_id="OT2010",
            successor_programme_id="OT2017",
            occurred_at=on(date(2016, 4, 19)),
        ),
        facts=KnownSuccessor("OT2017", exists=True),
    )
    assert events == [
        ev.SuccessorProgrammeLinked(
            programme_id="OT2010", successor_programme_id="OT2017", linked_on=date(2016, 4, 19)
        )
    ]


def test_successor_link_rules() -> None:
    link = cmd.LinkSuccessorProgramme(
        command_id="l2", programme_id="OT2010", successor_programme_id="OT2017"
    )
    given(PROGRAMME).then_rejects(link, "PROGRAMME_NOT_FOUND")
    linked = ev.SuccessorProgrammeLinked(
        programme_id="OT2010", successor_programme_id="OT2017", linked_on=date(2016, 4, 19)
    )
    given(PROGRAMME, OT2010, linked).then_rejects(link, "SUCCESSOR_ALREADY_LINKED")
    itself = link.model_copy(update={"successor_programme_id": "OT2010"})
    given(PROGRAMME, OT2010).then_rejects(itself, "SELF_SUCCESSION")
    # A successor id that names no planned programme (a typo: OT2O17) links nothing.
    unknown = KnownSuccessor("OT2017", exists=False)
    given(PROGRAMME, OT2010).then_rejects(link, "SUCCESSOR_PROGRAMME_NOT_FOUND", facts=unknown)
