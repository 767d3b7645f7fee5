"""Given / When / Then for the registry's pure deciders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import reduce
from typing import Any

import pytest

from contracts_schema.base import Command, DomainEvent
from contracts_schema.calendar import DUTCH_TIME
from contracts_schema.errors import RuleViolation
from contracts_schema.registry.state import contract, programme, tender
from eventstore.commands import DecisionContext
from registry.domain.contract_decide import decide_contract
from registry.domain.programme import decide_programme
from registry.domain.tender_decide import decide_tender

RECORDED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # the registry's clock: history loaded later


def on(day: date) -> datetime:
    """Mid-morning Dutch time on a day: the valid time of a command."""
    return datetime.combine(day, time(10, 0), tzinfo=DUTCH_TIME)


@dataclass(frozen=True)
class Aggregate:
    initial: Any
    evolve: Callable[[Any, DomainEvent], Any]
    decide: Callable[[Any, Command, DecisionContext], Sequence[DomainEvent]]


PROGRAMME = Aggregate(programme.initial(""), programme.evolve, decide_programme)
TENDER = Aggregate(tender.initial(""), tender.evolve, decide_tender)
CONTRACT = Aggregate(contract.initial(""), contract.evolve, decide_contract)


@dataclass(frozen=True)
class Scenario:
    aggregate: Aggregate
    history: tuple[DomainEvent, ...]

    def state(self) -> Any:
        return reduce(self.aggregate.evolve, self.history, self.aggregate.initial)

    def when(self, command: Command, *, facts: object = None) -> Sequence[DomainEvent]:
        state = self.state()
        valid_at = command.occurred_at or RECORDED
        return self.aggregate.decide(state, command, DecisionContext(RECORDED, valid_at, facts))

    def then_rejects(self, command: Command, code: str, *, facts: object = None) -> str:
        with pytest.raises(RuleViolation) as caught:
            self.when(command, facts=facts)
        assert caught.value.code == code, caught.value.message
        return caught.value.message


def given(aggregate: Aggregate, *history: DomainEvent) -> Scenario:
    return Scenario(aggregate, history)
