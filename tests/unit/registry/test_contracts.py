"""Contracts: signing (standstill, frameworks, call-offs), amend, extend, transfer, end."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts_schema.base import Command
from contracts_schema.money import Money
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import ContractKind, TenderState
from registry.domain.facts import SigningFacts
from tests.unit.registry.data import (
    KING,
    KPN,
    LNVT,
    STANDSTILL_ENDS,
    TELE2,
    THE_HAGUE,
    VNG,
    T,
    awarded_history,
    bids,
    planned,
    provisional,
    published,
    signed,
    supplier,
)
from tests.unit.registry.gwt import CONTRACT, TENDER, given, on

C = "c-0800"


def tender(*history: ev.TenderEvent) -> SigningFacts:
    state: TenderState = given(TENDER, *history).state()
    return SigningFacts(tender=state)


def sign(**changes: Any) -> cmd.SignContract:
    fields: dict[str, Any] = {
        "command_id": "s",
        "contract_id": C,
        "kind": "framework",
        "tender_id": T,
        "lot_ids": ["vast"],
        "contracting_authority": KING,
        "suppliers": [supplier(KPN)],
        "start_date": date(2010, 7, 1),
        "end_date": date(2013, 6, 30),
        "max_extent_date": date(2014, 6, 30),
        "occurred_at": on(date(2010, 6, 28)),
    }
    return cmd.SignContract.model_validate({**fields, **changes})


def test_sign_a_framework_after_the_definitive_award() -> None:
    [event] = given(CONTRACT).when(sign(), facts=tender(*awarded_history()))
    assert event == ev.ContractSigned(
        contract_id=C,
        kind="framework",
        tender_id=T,
        lot_ids=["vast"],
        contracting_authority=KING,
        suppliers=[supplier(KPN)],
        signed_on=date(2010, 6, 28),
        start_date=date(2010, 7, 1),
        end_date=date(2013, 6, 30),
        max_extent_date=date(2014, 6, 30),
    )


def test_no_signing_before_the_standstill_has_ended() -> None:
    facts = tender(planned(), published(), bids(), provisional())
    message = given(CONTRACT).then_rejects(
        sign(occurred_at=on(STANDSTILL_ENDS)), "STANDSTILL_NOT_ENDED", facts=facts
    )
    assert "20 calendar days from the day after" in message


def test_signing_needs_a_definitive_award_by_an_awarded_supplier() -> None:
    provisional_only = tender(planned(), published(), bids(), provisional())
    given(CONTRACT).then_rejects(sign(), "AWARD_NOT_DEFINITIVE", facts=provisional_only)
    wrong = sign(suppliers=[supplier(TELE2)])
    given(CONTRACT).then_rejects(wrong, "SUPPLIER_NOT_AWARDED", facts=tender(*awarded_history()))
    given(CONTRACT).then_rejects(
        sign(lot_ids=[]), "LOTS_REQUIRED", facts=tender(*awarded_history())
    )
    given(CONTRACT).then_rejects(sign(), "TENDER_NOT_FOUND", facts=SigningFacts())
    cancelled = ev.LotCancelled(
        tender_id=T, lot_id="vast", cancelled_on=date(2010, 6, 26), reason="x"
    )
    given(CONTRACT).then_rejects(
        sign(), "LOT_CANCELLED", facts=tender(*awarded_history(), cancelled)
    )
    review = ev.ReviewProceedingsStarted(
        tender_id=T, lot_id="vast", forum="court", started_on=date(2010, 6, 10)
    )
    pending = tender(planned(), published(), bids(), provisional(), review)
    given(CONTRACT).then_rejects(sign(), "REVIEW_PENDING", facts=pending)


def test_a_call_off_is_not_signed_here_but_awarded_with_award_call_off() -> None:
    # One entry point for one legal act: AwardCallOff (enrolment) checks the participant on
    # the lot's frozen list and the supplier on the lot; signContract would skip both.
    call_off = sign(
        contract_id="nok-1",
        kind="call_off",
        tender_id=None,
        framework_contract_id=C,
        contracting_authority="GM9999",
        occurred_at=on(date(2010, 7, 2)),
    )
    message = given(CONTRACT).then_rejects(
        call_off, "CALL_OFF_REQUIRES_AWARD_CALL_OFF", facts=SigningFacts()
    )
    assert "awardCallOff" in message


def test_a_call_off_signed_before_the_one_entry_point_still_reads() -> None:
    # Stored history is never lost: the fold still applies an old ContractSigned(call_off).
    state = given(CONTRACT, signed("call_off")).state()
    assert (state.kind, state.exists) == (ContractKind.CALL_OFF, True)


def test_a_contract_id_a_call_off_already_uses_is_refused() -> None:
    # A concluded call-off is a contract under its call-off id: the ids are one space.
    given(CONTRACT).then_rejects(
        sign(), "CONTRACT_ID_TAKEN", facts=SigningFacts(call_off_id_taken=True)
    )


def test_negotiated_terms_and_plain_contracts_need_no_tender() -> None:
    terms = sign(kind="negotiated_terms", tender_id=None, lot_ids=[], contract_id="gt-microsoft")
    [event] = given(CONTRACT).when(terms)
    assert event.kind == "negotiated_terms"
    plain = sign(kind="contract", tender_id=None, end_date=date(2020, 3, 14), max_extent_date=None)
    assert given(CONTRACT).when(plain)


def test_a_framework_longer_than_four_years_needs_a_rationale() -> None:
    long = sign(tender_id=None, end_date=date(2014, 7, 1), max_extent_date=None)
    message = given(CONTRACT).then_rejects(long, "FRAMEWORK_RATIONALE_REQUIRED")
    assert "art. 33(1)" in message
    four_years = sign(tender_id=None, end_date=date(2014, 6, 30), max_extent_date=None)
    assert given(CONTRACT).when(four_years)
    by_options = sign(tender_id=None, max_extent_date=date(2018, 6, 30))
    given(CONTRACT).then_rejects(by_options, "FRAMEWORK_RATIONALE_REQUIRED")
    argued = by_options.model_copy(update={"duration_rationale": "investment in VoIP ports"})
    assert given(CONTRACT).when(argued)


def test_period_and_identity_rules_at_signing() -> None:
    backwards = sign(tender_id=None, end_date=date(2010, 1, 1))
    given(CONTRACT).then_rejects(backwards, "INVALID_PERIOD")
    short_extent = sign(tender_id=None, max_extent_date=date(2012, 1, 1))
    given(CONTRACT).then_rejects(short_extent, "INVALID_PERIOD")
    given(CONTRACT, signed()).then_rejects(sign(tender_id=None), "CONTRACT_ALREADY_SIGNED")


def test_amend_contract() -> None:
    command = cmd.AmendContract(
        command_id="a",
        contract_id=C,
        summary="24/7 availability added",
        new_value_eur=1_200_000,
        occurred_at=on(date(2016, 1, 1)),
    )
    assert given(CONTRACT, signed()).when(command) == [
        ev.ContractAmended(
            contract_id=C,
            amended_on=date(2016, 1, 1),
            summary="24/7 availability added",
            new_value=Money.euro(1_200_000),
        )
    ]
    too_far = command.model_copy(update={"new_end_date": date(2023, 6, 30)})
    given(CONTRACT, signed()).then_rejects(too_far, "EXTENSION_PAST_MAX_EXTENT")


def test_extend_contract_up_to_the_maximum_extent_date() -> None:
    command = cmd.ExtendContract(
        command_id="e",
        contract_id=C,
        new_end_date=date(2020, 12, 31),
        option_reference="option 1",
        occurred_at=on(date(2019, 6, 1)),
    )
    assert given(CONTRACT, signed()).when(command) == [
        ev.ContractExtended(
            contract_id=C,
            new_end_date=date(2020, 12, 31),
            previous_end_date=date(2019, 12, 31),
            extended_on=date(2019, 6, 1),
            option_reference="option 1",
        )
    ]
    past = command.model_copy(update={"new_end_date": date(2023, 1, 1)})
    message = given(CONTRACT, signed()).then_rejects(past, "EXTENSION_PAST_MAX_EXTENT")
    assert "maximum extent date is 2022-12-31" in message
    no_options = signed(extent=None)
    given(CONTRACT, no_options).then_rejects(command, "EXTENSION_PAST_MAX_EXTENT")
    shorter = command.model_copy(update={"new_end_date": date(2019, 1, 1)})
    given(CONTRACT, signed()).then_rejects(shorter, "EXTENSION_NOT_LATER")


def test_transfer_with_a_paying_agent() -> None:
    command = cmd.TransferContract(
        command_id="t",
        contract_id=C,
        to_authority=LNVT,
        paying_agent=THE_HAGUE,
        occurred_at=on(date(2018, 7, 1)),
    )
    transferred = ev.ContractTransferred(
        contract_id=C,
        from_authority=VNG,
        to_authority=LNVT,
        paying_agent=THE_HAGUE,
        transferred_on=date(2018, 7, 1),
    )
    assert given(CONTRACT, signed()).when(command) == [transferred]
    given(CONTRACT, signed(), transferred).then_rejects(command, "SAME_AUTHORITY")


TERMINATED = ev.ContractTerminated(contract_id=C, terminated_on=date(2017, 1, 1), reason="r")
EXPIRED = ev.ContractExpired(contract_id=C, expired_on=date(2020, 1, 1))


@pytest.mark.parametrize("ended", [TERMINATED, EXPIRED])
def test_no_transfer_of_an_expired_or_terminated_contract(
    ended: ev.ContractTerminated | ev.ContractExpired,
) -> None:
    command = cmd.TransferContract(
        command_id="t", contract_id=C, to_authority=LNVT, occurred_at=on(date(2020, 6, 1))
    )
    message = given(CONTRACT, signed(), ended).then_rejects(command, "CONTRACT_ENDED")
    assert "cannot be changed" in message


def test_a_transfer_dated_before_the_termination_is_still_valid() -> None:
    # Valid time: the termination was recorded first, but the transfer happened earlier.
    command = cmd.TransferContract(
        command_id="t", contract_id=C, to_authority=LNVT, occurred_at=on(date(2016, 6, 1))
    )
    assert given(CONTRACT, signed(), TERMINATED).when(command)


def test_a_contract_past_its_end_date_counts_as_ended() -> None:
    command = cmd.TransferContract(
        command_id="t", contract_id=C, to_authority=LNVT, occurred_at=on(date(2020, 1, 1))
    )
    given(CONTRACT, signed()).then_rejects(command, "CONTRACT_ENDED")


def test_terminate_contract() -> None:
    command = cmd.TerminateContract(
        command_id="x", contract_id=C, reason="r", occurred_at=on(date(2017, 1, 1))
    )
    assert given(CONTRACT, signed()).when(command) == [TERMINATED]
    given(CONTRACT, signed(), TERMINATED).then_rejects(command, "CONTRACT_ENDED")


def test_expire_contract_only_after_its_end_date() -> None:
    command = cmd.ExpireContract(command_id="x", contract_id=C, occurred_at=on(date(2020, 1, 1)))
    assert given(CONTRACT, signed()).when(command) == [EXPIRED]
    early = command.model_copy(update={"occurred_at": on(date(2019, 12, 31))})
    given(CONTRACT, signed()).then_rejects(early, "CONTRACT_NOT_YET_ENDED")
    given(CONTRACT, signed(), EXPIRED).then_rejects(command, "CONTRACT_ENDED")


@pytest.mark.parametrize(
    "command",
    [
        cmd.AmendContract(command_id="x", contract_id=C, summary="s"),
        cmd.ExtendContract(command_id="x", contract_id=C, new_end_date=date(2030, 1, 1)),
        cmd.TransferContract(command_id="x", contract_id=C, to_authority=LNVT),
        cmd.TerminateContract(command_id="x", contract_id=C, reason="r"),
        cmd.ExpireContract(command_id="x", contract_id=C),
    ],
)
def test_nothing_happens_to_an_unsigned_contract(command: Command) -> None:
    given(CONTRACT).then_rejects(command, "CONTRACT_NOT_FOUND")


def test_nothing_is_dated_before_the_signature() -> None:
    command = cmd.TerminateContract(
        command_id="x", contract_id=C, reason="r", occurred_at=on(date(2014, 1, 1))
    )
    given(CONTRACT, signed()).then_rejects(command, "DATE_OUT_OF_ORDER")
