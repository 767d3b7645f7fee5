"""Participation per province is public, who enrolled is not (docs/security.md): a province
with one municipality, which enrolled, told anyone that it did. Now, for readers who do not
see every enrolment, a province row with fewer than 3 taking part or fewer than 3 not taking
part is left out, and more (smallest first) until those left out hold at least 3 of each,
so the national total minus the rows shown does not give them back. Coordinators and
auditors see every row."""

from __future__ import annotations

from typing import Any

from contracts_schema.enrolment.commands import LoadMunicipalities
from eventstore.memory import InMemoryEventStore
from gateway.privacy.small_counts import publishable
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import freeze, plan_under_gt
from tests.service.test_read_models import settled

NOORD = [f"GM{1100 + i}" for i in range(7)]  # with Amsterdam: 8 in Noord-Holland
ZUID = [f"GM{1200 + i}" for i in range(9)]  # with Rotterdam: 10 in Zuid-Holland
ROWS = [
    "cbs_code,name,province",
    "GM0363,Amsterdam,Noord-Holland",
    "GM0599,Rotterdam,Zuid-Holland",
    "GM0014,Groningen,Groningen",  # the province's only municipality here
    *(f"{code},Gemeente {code},Noord-Holland" for code in NOORD),
    *(f"{code},Gemeente {code},Zuid-Holland" for code in ZUID),
]
STATISTICS = """{ statistics {
  participationByProgrammeAndProvince { programmeId province participating municipalities }
  participationByProvince { key participating municipalities } } }"""


async def statistics(gateway: Gateway, token: str | None = None) -> Any:
    body = await gateway.query(STATISTICS, token=token)
    assert "errors" not in body, body
    return body["data"]["statistics"]


async def test_a_province_where_one_municipality_enrolled_is_not_shown_to_the_public(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(LoadMunicipalities(command_id="load-11", csv_text="\n".join(ROWS) + "\n"))
    await plan_under_gt(bus)
    # Amsterdam (by `freeze`) and 3 more of Noord-Holland: 4 of 8; 5 of Zuid-Holland's 10;
    # Groningen, alone in its province: 1 of 1.
    enrolled = ["GM0014", *NOORD[:3], "GM0599", *ZUID[:4]]
    await freeze(bus, others={code: ["voice"] for code in enrolled})
    await settled(gateway, store)

    everything = await statistics(gateway, gateway.token("coordinator"))
    rows = {
        r["province"]: (r["participating"], r["municipalities"])
        for r in everything["participationByProgrammeAndProvince"]
    }
    assert rows == {"Groningen": (1, 1), "Noord-Holland": (4, 8), "Zuid-Holland": (5, 10)}

    # Groningen alone would be hidden, then given back by the total (10) minus the rest:
    # Noord-Holland, the smaller, is left out with it (5 of 9 together).
    for token in (None, gateway.token("participant", "GM0363")):
        public = await statistics(gateway, token)
        assert public["participationByProgrammeAndProvince"] == [
            {
                "programmeId": "GT",
                "province": "Zuid-Holland",
                "participating": 5,
                "municipalities": 10,
            }
        ], public
        assert public["participationByProvince"] == [
            {"key": "Zuid-Holland", "participating": 5, "municipalities": 10}
        ], public

    # review14: suppressed per answer, two past answers compared (either side of a public
    # merger, or of any day) told who enrolled: past breakdowns only for those who see all.
    for field in ("participationByProgrammeAndProvince", "participationByProvince"):
        asked = '{ statistics(asOf: "2026-12-31") { ' + field + " { participating } } }"
        for token in (None, gateway.token("participant", "GM0363")):
            refused = await gateway.query(asked, token=token)
            [error] = refused["errors"]
            assert error["extensions"]["code"] == "PAST_BREAKDOWN_FORBIDDEN", refused
        shown = await gateway.query(asked, token=gateway.token("coordinator"))
        assert "errors" not in shown, shown
        assert shown["data"]["statistics"][field], shown


def test_what_is_left_out() -> None:
    def shown(*rows: tuple[int, int]) -> list[tuple[int, int]]:
        return publishable(list(rows), lambda r: r)

    assert shown((5, 10), (4, 8)) == [(5, 10), (4, 8)]
    assert shown((1, 1), (4, 8), (5, 10)) == [(5, 10)]  # one of one, then the smallest
    assert shown((0, 4), (6, 8)) == []  # none of 4: the other row alone would give it back
    assert shown((8, 9), (20, 40), (10, 30)) == [(20, 40)]  # all but one; complement of 2+
    assert shown((3, 6), (2, 2)) == []
