"""An aggregate begins in valid time with its first fact; nothing about it is true earlier.

The owner and every read model (GraphQL's versions, `audit replay`, OCDS, the notifier) fold
an aggregate's events in valid-time order: day by Dutch day, and within a day in the order
recorded (`eventstore.valid_order`). A fact dated a day before the aggregate's first fact
would land, in that order, before the aggregate exists: every read model would have to
refuse (park) it. So the owner refuses it, with a code that names the aggregate's first day
and what to do instead. (A fact of that same day, recorded
later, follows the first fact in every view, whatever its hour.)

The first day is in the creation event (a tender's `planned_on`, a programme's, an
organisation's `registered_on`); in an event stored before such a field existed it is
absent, and nothing can be compared. (An enrolment window's facts of its own period may
precede its opening: its fold keeps them, see `contracts_schema.enrolment.state`.)
"""

from __future__ import annotations

from datetime import date


def first_day_after(valid_on: date, first_day: date | None) -> date | None:
    """The aggregate's first day if a fact of `valid_on` lies before it (None: it does not,
    or the first day is unknown)."""
    return first_day if first_day is not None and valid_on < first_day else None


def why_not_before(what: str, valid_on: date, began: str, first_day: date, remedy: str) -> str:
    """The refusal's sentence: `began` names the aggregate's first fact."""
    return (
        f"{what} is dated {valid_on}, before {began} on {first_day}; nothing about it is true"
        f" before then, so every view would have to leave this fact out. {remedy}"
    )
