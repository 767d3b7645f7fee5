"""An enrolment window's extension learned late, dated before a later extension: every view
(GraphQL as of and as known at, the owner's fold, `audit replay`) and the owner agree.

The window's fold keeps the latest deadline whichever extension it meets first, so the
order of the two cannot matter: the one learned late moves the deadline from its day, and
the later one still applies after it (or leaves the later deadline in place).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from audit.bitemporal import Horizon, end_of_day
from audit.history import replay
from contracts_schema.enrolment import commands as en
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.integration.test_one_truth import fold_at
from tests.service.bus import InProcessBus
from tests.service.story import tender_with_window

WINDOW = """query ($asOf: Date, $knownAt: DateTime) {
  tender(tenderId: "t1", asOf: $asOf, knownAt: $knownAt) { enrolmentWindow { closesOn } }
}"""


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def opened(bus: InProcessBus) -> None:
    await tender_with_window(bus, date(2019, 4, 30))


def extension(command_id: str, closes_on: date, day: datetime) -> en.ExtendEnrolmentWindow:
    return en.ExtendEnrolmentWindow(
        command_id=command_id, tender_id="t1", closes_on=closes_on, occurred_at=day
    )


async def deadlines(
    g: Gateway, store: InMemoryEventStore, days: list[date], known: list[datetime | None]
) -> dict[tuple[date, datetime | None], str | None]:
    """GraphQL's deadline at each horizon, checked against the owner's fold and `audit
    replay` of the window's stored events there."""
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    assert {r.projection.key: r.parked_count for r in g.runners if r.parked_count} == {}
    stored = [e.envelope for e in (await store.load(ENROLMENT, "enrolment_window", "t1")).events]
    found = {}
    for day in days:
        for known_at in known:
            variables = {"asOf": day.isoformat(),
                         "knownAt": known_at.isoformat() if known_at else None}  # fmt: skip
            body = await g.query(WINDOW, variables, token=g.token("coordinator"))
            assert "errors" not in body, body
            window = body["data"]["tender"]["enrolmentWindow"]
            shown = window["closesOn"] if window else None
            horizon = Horizon(end_of_day(day), known_at or datetime.now(UTC) + timedelta(1000))
            state = fold_at("enrolment", "enrolment_window", "t1", stored, horizon)
            folded = state.closes_on.isoformat() if state.closes_on else None
            audit = replay("enrolment_window", "t1", stored, horizon).as_json()["state"]
            where = f"as of {day}, known at {known_at or 'now'}"
            assert (shown, audit.get("closes_on")) == (folded, folded), where
            found[day, known_at] = shown
    return found


@pytest.mark.parametrize(
    ("late_to", "then", "after"),
    [
        (date(2019, 5, 31), "2019-05-31", "2019-06-30"),  # the later extension still extends
        (date(2019, 7, 31), "2019-07-31", "2019-07-31"),  # the later deadline stays latest
    ],
)
async def test_an_extension_learned_late_before_a_later_one_is_the_same_in_every_view(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock,
    late_to: date, then: str, after: str,
) -> None:  # fmt: skip
    await opened(bus)
    await bus.accept(extension("later", date(2019, 6, 30), at(2019, 4, 20)))
    before = clock.now()
    clock.advance(timedelta(hours=1))
    await bus.accept(extension("learned-late", late_to, at(2019, 4, 10)))
    days = [date(2019, 4, 1), date(2019, 4, 15), date(2019, 4, 25)]
    found = await deadlines(gateway, store, days, [None, before])
    assert found[date(2019, 4, 1), None] == "2019-04-30"
    assert found[date(2019, 4, 15), None] == then
    assert found[date(2019, 4, 15), before] == "2019-04-30"  # not known yet then
    assert found[date(2019, 4, 25), None] == after
    # The owner decides on the same deadline: an extension to before it is none.
    short = extension("short", date(2019, 6, 15), at(2019, 4, 26))
    await bus.reject(short, "EXTENSION_NOT_LATER")
