"""Shared pieces of the rules: the decision input, valid dates, the standstill period."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from contracts_schema.errors import RuleViolation

# Dutch procurement dates are Dutch calendar days.

# Aanbestedingswet 2012 art. 2.127: at least 20 calendar days from the day after the
# award decision was sent. standstill_ends_on is the last day of that period.
STANDSTILL_DAYS = 20


class DecisionInput(Protocol):
    """What a decision may know besides state and command (eventstore's DecisionContext)."""

    @property
    def now(self) -> datetime: ...

    @property
    def valid_at(self) -> datetime: ...

    @property
    def valid_on(self) -> date: ...

    @property
    def facts(self) -> object: ...


def valid_on(ctx: DecisionInput) -> date:
    """The calendar day (Dutch time) on which the commanded fact became true."""
    return ctx.valid_on


def standstill_ends_on(decision_sent_on: date) -> date:
    return decision_sent_on + timedelta(days=STANDSTILL_DAYS)


def not_before(on: date, earlier: date | None, what: str, anchor: str) -> None:
    if earlier is not None and on < earlier:
        raise RuleViolation(
            "DATE_OUT_OF_ORDER",
            f"{what} on {on} cannot precede {anchor} on {earlier};"
            " facts of one procedure follow each other in time",
        )


def not_allowed(what: str, state: str, allowed: str) -> RuleViolation:
    return RuleViolation(
        "TRANSITION_NOT_ALLOWED",
        f"{what} is not possible while it is {state}; it is allowed only when {allowed}",
    )
