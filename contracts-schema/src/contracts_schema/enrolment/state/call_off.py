"""The call-off aggregate (nadere overeenkomst) as the enrolment service folds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    CallOffAwarded,
    CallOffProcedure,
    MiniCompetitionStarted,
)
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace


@dataclass(frozen=True)
class CallOffState:
    call_off_id: str
    framework_contract_id: str | None = None
    tender_id: str | None = None
    lot_id: str | None = None
    participant_code: str | None = None
    invited_supplier_ids: tuple[str, ...] = ()  # of the mini-competition
    competition_started_on: date | None = None
    supplier_id: str | None = None
    awarded_on: date | None = None
    procedure: CallOffProcedure | None = None
    start_date: date | None = None
    end_date: date | None = None
    value_eur: Decimal | None = None
    standstill_exempt: bool = True

    @property
    def competition_started(self) -> bool:
        return self.competition_started_on is not None

    @property
    def awarded(self) -> bool:
        return self.awarded_on is not None

    @property
    def exists(self) -> bool:
        return self.competition_started or self.awarded


def initial(call_off_id: str) -> CallOffState:
    return CallOffState(call_off_id=call_off_id)


HANDLED: frozenset[type[DomainEvent]] = frozenset({MiniCompetitionStarted, CallOffAwarded})
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def evolve(state: CallOffState, event: DomainEvent) -> CallOffState:
    match event:
        case MiniCompetitionStarted():
            if state.exists:
                raise _error(state, event, "it already has a mini-competition or an award")
            return replace(
                state,
                call_off_id=event.call_off_id,
                framework_contract_id=event.framework_contract_id,
                tender_id=event.tender_id,
                lot_id=event.lot_id,
                participant_code=event.participant_code,
                invited_supplier_ids=tuple(event.invited_supplier_ids),
                competition_started_on=event.started_on,
            )
        case CallOffAwarded():
            if state.awarded:
                raise _error(state, event, f"it was already awarded on {state.awarded_on}")
            return replace(
                state,
                call_off_id=event.call_off_id,
                framework_contract_id=event.framework_contract_id,
                tender_id=event.tender_id,
                lot_id=event.lot_id,
                participant_code=event.participant_code,
                supplier_id=event.supplier_id,
                awarded_on=event.awarded_on,
                procedure=event.procedure,
                start_date=event.start_date,
                end_date=event.end_date,
                value_eur=None if event.value is None else event.value.amount,
                standstill_exempt=event.standstill_exempt,
            )
    if type(event) in IGNORED:
        return state
    raise _error(state, event, "it is not an event of the call-off aggregate")


def _error(state: CallOffState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to call-off {state.call_off_id}: {why}")
