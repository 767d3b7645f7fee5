"""The domain's calendar: dates are Dutch calendar days, whatever zone a client writes."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


def dutch_day(moment: datetime) -> date:
    """The calendar day in the Netherlands on which an (aware) instant falls."""
    return moment.astimezone(DUTCH_TIME).date()


def start_of_dutch_day(moment: datetime) -> datetime:
    """Valid time is a Dutch calendar day: the instant that day begins in the Netherlands.

    Facts of one day take effect together, in the order they were recorded (the order the
    owning service decided them in), whatever hour a client wrote.
    """
    return datetime.combine(dutch_day(moment), time(0), tzinfo=DUTCH_TIME)


def dutch_midnight(day: date) -> datetime:
    """The instant a Dutch calendar day begins."""
    return datetime.combine(day, time(0), tzinfo=DUTCH_TIME)


def end_of_dutch_day(day: date) -> datetime:
    """The last instant of a Dutch calendar day: "as of D" counts every fact of day D."""
    # The microsecond before the next midnight in Dutch wall time (aware arithmetic is wall
    # time), written without the next day so that the last representable day has an end too.
    return datetime.combine(day, time.max, tzinfo=DUTCH_TIME)
