"""user10: a coordinator entering OT2010's real history (the Vast lot provisionally awarded to
KPN in 2010, reconsidered and awarded to Tele2 in 2012) through GraphQL.

Each test failed before its fix.
"""

from __future__ import annotations

from datetime import date

from audit.summaries import summarise
from contracts_schema.enrolment.commands import MergeMunicipality
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import (
    KPN,
    VODAFONE,
    award,
    freeze,
    on,
    plan,
    plan_under_gt,
    publish,
    sign_framework,
)
from tests.service.test_read_models import query, settled

LOT_SUPPLIERS = """query($a: Date) { tender(tenderId: "gt-connect", asOf: $a) {
  lots { lotId status suppliers { supplierId name } } } }"""


async def test_a_supplier_no_contract_names_yet_is_named_as_registered(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """A lot provisionally awarded (no contract signed yet) named its supplier by its bare
    KvK code ('KVK-27124701'), although the organisation register (and the OCDS export of
    the same tender) name it 'KPN B.V.'."""
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())
    await bus.accept(
        cmd.RecordBids(
            command_id="bids", tender_id="gt-connect", lot_id="voice", bid_count=2,
            bidder_ids=[KPN, VODAFONE], occurred_at=on(date(2019, 7, 1)),
        )
    )  # fmt: skip
    await bus.accept(
        cmd.DecideProvisionalAward(
            command_id="award", tender_id="gt-connect", lot_id="voice", supplier_ids=[KPN],
            occurred_at=on(date(2019, 8, 1)),
        )
    )  # fmt: skip
    await settled(gateway, store)
    lots = (await query(gateway, LOT_SUPPLIERS, a=None))["tender"]["lots"]
    voice = next(lot for lot in lots if lot["lotId"] == "voice")
    assert voice["status"] == "PROVISIONALLY_AWARDED"
    assert voice["suppliers"] == [{"supplierId": KPN, "name": "KPN B.V."}]
    # The root field answers for it too; an organisation that is no supplier is no Supplier.
    found = await query(
        gateway,
        f'{{ supplier(supplierId: "{KPN}") {{ name }} municipality: supplier(supplierId:'
        ' "GM0363") { name } }',
    )
    assert found == {"supplier": {"name": "KPN B.V."}, "municipality": None}


async def test_a_tender_under_a_programme_never_planned_is_refused(bus: InProcessBus) -> None:
    """PlanTender under a mistyped programme ('OT2O10') was accepted: a tender whose
    `programme` every view answered null, counted under no programme's participation."""
    typo = plan().model_copy(update={"programme_id": "OT2O10"})
    refused = await bus.reject(typo, "PROGRAMME_NOT_FOUND")
    assert "programme OT2O10 has not been planned" in refused.message
    assert "PlanProgramme" in refused.message
    assert "programmeId" in refused.message
    # Planned first (on any day: existence across aggregates is not compared by day), it is
    # accepted.
    await bus.accept(
        cmd.PlanProgramme(
            command_id="ot2010", programme_id="OT2010", name="Overheidstelecommunicatie 2010",
            coordinator="GM0363", occurred_at=on(date(2020, 1, 1)),
        )
    )  # fmt: skip
    await bus.accept(plan().model_copy(update={"programme_id": "OT2010"}))


async def test_a_date_in_another_form_is_told_the_form(gateway: Gateway) -> None:
    """'13-11-2020' (a Dutch habit) answered only "Invalid isoformat string"; a DateTime
    '13 nov 2020 10:00' only "Expected 4 digits, got '13 n'": neither said what to send."""
    for text, variables in (
        ('{ tenders(asOf: "13-11-2020") { totalCount } }', None),
        ("query($d: Date) { tenders(asOf: $d) { totalCount } }", {"d": "2020/11/13"}),
    ):
        body = await gateway.query(text, variables)
        assert body.get("data") is None, body
        assert "expected a day as YYYY-MM-DD, e.g. 2020-11-13" in body["errors"][0]["message"]
    body = await gateway.query(
        "query($k: DateTime) { tenders(knownAt: $k) { totalCount } }", {"k": "13 nov 2020 10:00"}
    )
    message = body["errors"][0]["message"]
    assert "expected an ISO 8601 date and time with its UTC offset" in message, body
    assert "2020-11-13T10:00:00+01:00" in message


STATISTICS = """query($a: Date) { statistics(asOf: $a) {
  participation { municipalities }
  participationByProvince { key municipalities } } }"""


async def test_a_merger_decided_ahead_counts_from_the_day_it_takes_effect(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """Rotterdam merging into Amsterdam on 2027-01-01, recorded today (2026-01-15): the
    statistics counted one municipality fewer from the day the merger was recorded, while
    Rotterdam still acts (and may enrol) until the day it takes effect."""
    await bus.accept(
        MergeMunicipality(
            command_id="merge", code="GM0599", successor_code="GM0363",
            effective_on=date(2027, 1, 1),
        )
    )  # fmt: skip
    await settled(gateway, store)
    for as_of, counted in ((None, 2), ("2026-12-31", 2), ("2027-01-01", 1)):
        body = await gateway.query(STATISTICS, {"a": as_of}, token=gateway.token("coordinator"))
        found = body["data"]["statistics"]  # every province row: small ones are for them only
        assert found["participation"]["municipalities"] == counted, as_of
        by_province = {r["key"]: r["municipalities"] for r in found["participationByProvince"]}
        assert by_province.get("Zuid-Holland", 0) == counted - 1, as_of


BY_PROGRAMME = """{ statistics {
  participationByProgramme { key participating municipalities rate }
  participationByProgrammeAndProvince { programmeId participating }
  participation { participating municipalities } } }"""


async def test_a_programme_counts_the_municipalities_its_rate_is_of(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """Rotterdam enrolled in GT and merged into Amsterdam (2020): the programme's count still
    held it, 2 participating of 1 municipality, rate 2.0, while the overall participation and
    the per-province counts of the same request left it out."""
    await plan_under_gt(bus)
    await freeze(bus, others={"GM0599": ["voice"]})
    await bus.accept(
        MergeMunicipality(
            command_id="merge", code="GM0599", successor_code="GM0363",
            effective_on=date(2020, 1, 1),
        )
    )  # fmt: skip
    await settled(gateway, store)
    body = await gateway.query(BY_PROGRAMME, token=gateway.token("coordinator"))
    found = body["data"]["statistics"]  # every province row: small ones are for them only
    assert found["participationByProgramme"] == [
        {"key": "GT", "participating": 1, "municipalities": 1, "rate": 1.0}
    ]
    per_province = sum(r["participating"] for r in found["participationByProgrammeAndProvince"])
    assert per_province == found["participation"]["participating"] == 1


async def test_a_framework_over_four_years_names_the_field_a_coordinator_sends(
    bus: InProcessBus,
) -> None:
    """The refusal named `duration_rationale`, a field GraphQL has no such name for."""
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())
    await award(bus, "voice", KPN)
    await award(bus, "data", VODAFONE)
    long = sign_framework(end_date=date(2025, 9, 30))
    refused = await bus.reject(long, "FRAMEWORK_RATIONALE_REQUIRED")
    assert "send it as durationRationale" in refused.message


def test_one_bid_is_one_bid_in_the_audit_trail() -> None:
    """`audit replay` and `history` said "lot eud: 1 bids received"."""
    event = ev.BidsRecorded(lot_id="eud", tender_id="t", bid_count=1, received_on=date(2009, 11, 1))
    assert summarise("BidsRecorded", event, [], None) == "lot eud: 1 bid received on 2009-11-01"


async def test_a_code_typed_with_spaces_is_told_so(gateway: Gateway) -> None:
    """'KVK 1234 5678' was refused as "not an identifier: 1 to 128 letters, digits, '-' or
    '_'", without saying that the spaces were the trouble."""
    body = await gateway.query(
        'mutation { registerOrganisation(input: {code: "KVK 1234 5678", name: "UPC Business",'
        " kind: SUPPLIER}) { ... on InvalidInput { problems { path message } } } }",
        token=gateway.token("coordinator"),
    )
    [problem] = body["data"]["registerOrganisation"]["problems"]
    assert problem["path"] == "code"
    assert "it holds spaces, which none may: e.g. KVK-12345678" in problem["message"]
