"""What a signature relies on is final: no command changes a definitively awarded lot.

`SignContract` reads the tender outside the contract's optimistic check; this invariant is
what makes that read safe (tests/integration/registry/test_signing_race.py races it on
JetStream). A new rule that lets a lot leave AWARDED must close that race another way.
"""

from __future__ import annotations

from datetime import date

import pytest

from contracts_schema.base import Command
from contracts_schema.errors import RuleViolation
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.state import LotStatus
from tests.unit.registry.data import KPN, TELE2, T, awarded_history
from tests.unit.registry.gwt import TENDER, given, on

DAY = on(date(2011, 6, 1))
LOT = {"command_id": "x", "tender_id": T, "lot_id": "vast", "occurred_at": DAY}

EVERY_LOT_COMMAND: list[Command] = [
    cmd.RecordBids(**LOT, bid_count=3, bidder_ids=[KPN, TELE2]),
    cmd.DecideProvisionalAward(**LOT, supplier_ids=[TELE2]),
    cmd.ReviseProvisionalAward(**LOT, supplier_ids=[TELE2], reason="KPN's bid was incomplete"),
    cmd.WithdrawProvisionalAward(**LOT, reason="error"),
    cmd.StartReviewProceedings(**LOT, forum="Rechtbank Den Haag", claimant_id=TELE2),
    cmd.ConcludeReviewProceedings(**LOT, outcome="award_annulled"),
    cmd.RecordStandstillEnded(**LOT),
    cmd.MakeAwardDefinitive(**LOT),
    cmd.CancelLot(**LOT, reason="budget"),
    cmd.CancelTender(command_id="x", tender_id=T, reason="budget", occurred_at=DAY),
    cmd.PauseTender(command_id="x", tender_id=T, reason="complaint", occurred_at=DAY),
]


@pytest.mark.parametrize("command", EVERY_LOT_COMMAND, ids=lambda c: c.command_type)
def test_given_a_definitive_award_when_any_command_then_the_lot_stays_awarded_to_kpn(
    command: Command,
) -> None:
    awarded = given(TENDER, *awarded_history())
    before = next(lot for lot in awarded.state().lots if lot.lot_id == "vast")
    assert (before.status, before.supplier_ids) == (LotStatus.AWARDED, (KPN,))
    try:
        events = awarded.when(command)
    except RuleViolation:
        return  # refused: nothing changes
    after = next(
        lot for lot in given(TENDER, *awarded_history(), *events).state().lots
        if lot.lot_id == "vast"
    )  # fmt: skip
    assert (after.status, after.supplier_ids) == (LotStatus.AWARDED, (KPN,))
