"""The domain's calendar: dates are Dutch calendar days, whatever zone a client writes."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


def dutch_day(moment: datetime) -> date:
    """The calendar day in the Netherlands on which an (aware) instant falls."""
    return moment.astimezone(DUTCH_TIME).date()
