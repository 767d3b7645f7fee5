"""Commits written in the order a story unfolds, with transaction time trailing valid time."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.history.model import Commit, SyntheticEvent, at

# The history ends here: nothing is valid or recorded later.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
HISTORY_START = date(2006, 1, 2)

EventSpec = tuple[str, dict[str, Any], date]  # event type, payload, valid day


class Story:
    """Collects commits; within one story transaction time never goes backwards."""

    def __init__(self, rng: random.Random, ids: Iterator[int], seed: int) -> None:
        self.rng = rng
        self.commits: list[Commit] = []
        self._ids = ids
        self._seed = seed
        self._last: datetime | None = None

    def add(
        self,
        context: str,
        aggregate_type: str,
        aggregate_id: str,
        events: list[EventSpec],
        actor: str,
        *,
        recorded_at: datetime | None = None,
    ) -> bool:
        """Add a commit unless it lies in the future; a given `recorded_at` (a late entry or
        backdated correction) stands apart from the story's own clock."""
        valid_day = events[0][2]
        if valid_day > TODAY:
            return False
        late = recorded_at is not None
        if recorded_at is None:
            lag = timedelta(days=self.rng.choice((0, 0, 0, 0, 1, 2, 7)))
            recorded_at = at(valid_day, self.rng.randint(10, 17), self.rng.randint(0, 59)) + lag
            if self._last is not None and recorded_at <= self._last:
                recorded_at = self._last + timedelta(minutes=1)
        if recorded_at > NOW:
            return False
        if not late:
            self._last = recorded_at
        n = next(self._ids)
        self.commits.append(
            Commit(
                context,
                aggregate_type,
                aggregate_id,
                tuple(SyntheticEvent(kind, payload, at(day, 9)) for kind, payload, day in events),
                recorded_at,
                f"gen-{self._seed}-{n}",
                actor,
                order=n,
            )
        )
        return True

    @property
    def last_recorded(self) -> datetime | None:
        return self._last


def counter() -> Iterator[int]:
    return itertools.count(1)


def iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def days(n: int) -> timedelta:
    return timedelta(days=n)
