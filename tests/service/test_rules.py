"""Given / When / Then for the cross-cutting rules, through the services' command handling:
organisations must exist, one valid time (the Dutch day, never in the future), input bounds,
command ids unique across contexts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from bootstrap.parts import registry_service
from contracts_schema.enrolment.commands import (
    AwardCallOff,
    EnrolParticipant,
    OpenEnrolmentWindow,
    RegisterOrganisation,
)
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import ContractSupplier, Lot
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.settings import CommandSettings
from tests.service.bus import InProcessBus
from tests.service.story import (
    KPN,
    framework_signed,
    on,
    plan,
    sign_framework,
)

NOBODY = "KVK-00000000"


# --- every organisation a command names is registered -------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        plan("t-authority").model_copy(update={"contracting_authority": NOBODY}),
        plan("t-municipality").model_copy(update={"contracting_authority": "GM9999"}),
        cmd.PlanProgramme(command_id="p", programme_id="OT2010", name="OT", coordinator=NOBODY),
        sign_framework("c-supplier").model_copy(
            update={"suppliers": [ContractSupplier(supplier_id=NOBODY, name="?", lot_ids=[])]}
        ),
        sign_framework("c-agent", paying_agent=NOBODY),
        cmd.TransferContract(command_id="t", contract_id="gt-connect-fw", to_authority=NOBODY),
        cmd.RecordBids(
            command_id="b", tender_id="gt-connect", lot_id="voice", bid_count=1, bidder_ids=[NOBODY]
        ),
    ],
    ids=["authority", "municipality", "buyer", "supplier", "paying-agent", "transferee", "bidder"],
)
async def test_given_an_unregistered_organisation_when_a_command_names_it_then_refused(
    bus: InProcessBus, command: cmd.TenderCommand
) -> None:
    refused = await bus.reject(command, "ORGANISATION_UNKNOWN")
    assert NOBODY in refused.message or "GM9999" in refused.message


async def test_given_an_unregistered_participant_or_supplier_when_calling_off_then_refused(
    bus: InProcessBus,
) -> None:
    await framework_signed(bus)
    call_off = AwardCallOff(
        command_id="co-x",
        call_off_id="co-x",
        framework_contract_id="gt-connect-fw",
        lot_id="voice",
        participant_code="GM0363",
        supplier_id=NOBODY,
        procedure="direct",
        start_date=date(2020, 1, 1),
        end_date=date(2021, 1, 1),
        occurred_at=on(date(2020, 1, 1)),
    )
    await bus.reject(call_off, "ORGANISATION_UNKNOWN")
    stranger = call_off.model_copy(update={"participant_code": "GM0999", "supplier_id": KPN})
    await bus.reject(stranger, "ORGANISATION_UNKNOWN")


async def test_given_the_organisation_registered_when_named_then_accepted(
    bus: InProcessBus,
) -> None:
    await bus.accept(RegisterOrganisation(command_id="r", code=NOBODY, name="Nu wel", kind="zbo"))
    await bus.accept(plan("t-now").model_copy(update={"contracting_authority": NOBODY}))


# --- one valid time: the Dutch calendar day, not in the future ------------------------------


async def test_given_the_clock_when_a_fact_is_dated_beyond_the_tolerance_then_refused(
    bus: InProcessBus, clock: FixedClock
) -> None:
    now = clock.now()
    soon = plan("t-soon").model_copy(update={"occurred_at": now + timedelta(minutes=4)})
    await bus.accept(soon)  # clock skew within the default 5 minutes
    late = plan("t-late").model_copy(update={"occurred_at": now + timedelta(minutes=6)})
    refused = await bus.reject(late, "VALID_TIME_IN_FUTURE")
    assert "5 minutes" in refused.message
    expiry = cmd.ExpireContract(
        command_id="x", contract_id="gt-connect-fw", occurred_at=datetime(2027, 2, 14, tzinfo=UTC)
    )
    await bus.reject(expiry, "VALID_TIME_IN_FUTURE")


async def test_given_future_end_dates_and_deadlines_when_recorded_then_accepted(
    bus: InProcessBus,
) -> None:
    # End dates and enrolment deadlines lie in the future by nature: they are not valid times.
    await bus.accept(plan("t-future"))
    await bus.accept(
        OpenEnrolmentWindow(
            command_id="w-future",
            tender_id="t-future",
            lot_ids=["voice"],
            opens_on=date(2026, 1, 15),
            closes_on=date(2027, 6, 30),
        )
    )


async def test_given_a_configured_tolerance_when_deciding_then_it_applies(
    store: InMemoryEventStore, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_VALID_TIME_TOLERANCE_SECONDS", "0")
    strict = registry_service(store, clock)
    await strict.start()
    bus = InProcessBus([strict])
    later = plan("t-strict").model_copy(update={"occurred_at": clock.now() + timedelta(seconds=1)})
    await bus.reject(later, "VALID_TIME_IN_FUTURE")
    monkeypatch.setenv("GT_VALID_TIME_TOLERANCE_SECONDS", "-1")
    with pytest.raises(ValidationError, match="valid_time_tolerance_seconds"):
        CommandSettings()


async def test_given_a_fact_near_midnight_when_dated_then_both_contexts_take_the_dutch_day(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    # 23:30 UTC on 31 March 2019 is 01:30 on 1 April in Amsterdam (summer time).
    late_evening = datetime(2019, 3, 31, 23, 30, tzinfo=UTC)
    await bus.accept(plan().model_copy(update={"occurred_at": late_evening}))
    await bus.accept(
        OpenEnrolmentWindow(
            command_id="w",
            tender_id="gt-connect",
            lot_ids=["voice"],
            opens_on=date(2019, 3, 1),
            closes_on=date(2019, 4, 30),
            occurred_at=on(date(2019, 3, 1)),
        )
    )
    await bus.accept(
        EnrolParticipant(
            command_id="e",
            tender_id="gt-connect",
            organisation_code="GM0363",
            lot_ids=["voice"],
            power_of_attorney_ref="V-1",
            occurred_at=late_evening,
        )
    )
    [planned] = [e async for e in store.read_stream(REGISTRY)]
    enrolled = [e async for e in store.read_stream(ENROLMENT)][-1]
    assert planned.envelope.payload["planned_on"] == "2019-04-01"
    assert enrolled.envelope.payload["enrolled_on"] == "2019-04-01"


def test_given_a_deprecated_day_field_when_sent_then_it_is_the_one_valid_time() -> None:
    fields = {
        "command_id": "co",
        "call_off_id": "co",
        "framework_contract_id": "fw",
        "lot_id": "voice",
        "participant_code": "GM0363",
        "supplier_id": KPN,
        "procedure": "direct",
        "start_date": date(2020, 3, 1),
        "end_date": date(2021, 3, 1),
    }
    alone = AwardCallOff.model_validate({**fields, "awarded_on": date(2020, 2, 1)})
    assert alone.occurred_at == datetime(2020, 1, 31, 23, tzinfo=UTC)  # Dutch midnight
    derived = AwardCallOff.model_validate({**fields, "occurred_at": on(date(2020, 2, 3))})
    assert derived.awarded_on == date(2020, 2, 3)
    with pytest.raises(ValidationError, match="one valid time"):
        AwardCallOff.model_validate(
            {**fields, "awarded_on": date(2020, 2, 1), "occurred_at": on(date(2020, 2, 3))}
        )


async def test_given_a_call_off_without_occurred_at_when_awarded_then_dated_its_day(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await framework_signed(bus)
    reply = await bus.accept(
        AwardCallOff(
            command_id="co-day",
            call_off_id="co-day",
            framework_contract_id="gt-connect-fw",
            lot_id="voice",
            participant_code="GM0363",
            supplier_id=KPN,
            procedure="direct",
            awarded_on=date(2020, 2, 1),
            start_date=date(2020, 3, 1),
            end_date=date(2021, 3, 1),
        )
    )
    event = [e async for e in store.read_stream(ENROLMENT)][-1]
    assert event.envelope.event_id == reply.events[-1].event_id
    # Its valid time is the award day (as-of queries find it), not the day it was recorded.
    assert event.envelope.occurred_at == datetime(2020, 1, 31, 23, tzinfo=UTC)


# --- input bounds, in the contract ----------------------------------------------------------


def _problems(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.value.errors()}


@pytest.mark.parametrize(
    ("title", "bound"),
    [
        ("x" * 301, "at most 300 characters"),
        ("   ", "at least 1 character"),
        ("GT\x00Connect", "U+0000"),
        ("GT \u202etcennoC", "U+202E"),
        ("GT \x1b[31mConnect", "U+001B"),
    ],
    ids=["too-long", "blank", "nul", "rtl-override", "ansi-escape"],
)
def test_given_a_bad_name_when_planning_then_the_field_and_bound_are_named(
    title: str, bound: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        cmd.PlanTender.model_validate({**plan().model_dump(), "title": title})
    assert bound in _problems(caught)["title"]


def test_given_names_with_spaces_around_when_planning_then_they_are_trimmed() -> None:
    assert cmd.PlanTender.model_validate({**plan().model_dump(), "title": "  GT  "}).title == "GT"


@pytest.mark.parametrize(
    ("changes", "field", "bound"),
    [
        ({"value_eur": 1e308}, "value_eur", "less than or equal to"),
        ({"value_eur": -1}, "value_eur", "greater than or equal to 0"),
        ({"value_eur": "Infinity"}, "value_eur", "finite"),
        ({"value_eur": 0.001}, "value_eur", "2 decimal places"),
        ({"start_date": date(1, 1, 1)}, "start_date", "1990-01-01"),
        ({"end_date": date(9999, 12, 31)}, "end_date", "2100-12-31"),
    ],
)
def test_given_out_of_bounds_amounts_and_dates_when_signing_then_refused(
    changes: dict[str, object], field: str, bound: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        sign_framework(**changes)
    assert bound in _problems(caught)[field]


def test_given_amounts_when_signing_then_they_are_exact_decimals() -> None:
    assert str(sign_framework(value_eur=1_200_000.1).value_eur) == "1200000.1"


def test_given_201_lots_when_planning_then_refused() -> None:
    lots = [Lot(lot_id=f"l{i}", title=f"Lot {i}") for i in range(201)]
    with pytest.raises(ValidationError) as caught:
        cmd.PlanTender.model_validate({**plan().model_dump(), "lots": lots})
    assert "at most 200 items" in _problems(caught)["lots"]


def test_given_a_future_dated_instant_beyond_2100_when_sent_then_refused() -> None:
    with pytest.raises(ValidationError, match="2100-12-31"):
        plan().model_validate({**plan().model_dump(), "occurred_at": "2101-01-01T00:00:00Z"})


# --- command ids are unique across contexts -------------------------------------------------


async def test_given_a_command_id_used_in_one_context_when_reused_in_another_then_refused(
    bus: InProcessBus,
) -> None:
    await bus.accept(plan("t-ids").model_copy(update={"command_id": "shared-id"}))
    window = OpenEnrolmentWindow(
        command_id="shared-id",
        tender_id="t-ids",
        lot_ids=["voice"],
        opens_on=date(2019, 2, 1),
        closes_on=date(2019, 4, 30),
        occurred_at=on(date(2019, 1, 20)),
    )
    refused = await bus.reject(window, "COMMAND_ID_REUSED")
    assert "registry" in refused.message
    again = await bus.send(plan("t-ids").model_copy(update={"command_id": "shared-id"}))
    assert isinstance(again, CommandAccepted)
    assert again.duplicate  # within its own context a retry is still a retry


async def test_given_a_record_written_before_ids_were_shared_when_reused_then_recognised(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    # Records used to be keyed <context>.<id>; they are still read.
    legacy = {"fingerprint": "0" * 64, "reply": {"command_id": "old-id", "events": []}}
    await store.processed_commands.put("registry.old-id", json.dumps(legacy).encode())
    await bus.reject(plan("t-old").model_copy(update={"command_id": "old-id"}), "COMMAND_ID_REUSED")
