"""When is a contract's expiry warning due? A pure function of dates and a policy.

Every contract has an end date and possibly a maximum extent date. Before each, warnings fall
due at fixed thresholds (24, 18, 12, 6 and 3 months by default) and on the date itself. On a
given day only the most recent threshold that has fallen due is raised: a schedule that was not
run for a while (or learned a date late) says the latest thing, once, marked late, instead of
replaying stale warnings. A threshold that had already passed when the date was set in the
world (e.g. an extension decided two months before the old end) is never raised.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal

DateKind = Literal["end", "max_extent"]
EXPIRY = "expiry"


@dataclass(frozen=True)
class ExpiryPolicy:
    thresholds_months: tuple[int, ...] = (24, 18, 12, 6, 3)
    late_after_days: int = 7  # a warning raised later than this after its due day is "late"
    forget_after_days: int = 30  # dates further in the past than this are history: no warnings

    def __post_init__(self) -> None:
        if any(m <= 0 for m in self.thresholds_months):
            raise ValueError("expiry thresholds must be positive numbers of months")
        if len(set(self.thresholds_months)) != len(self.thresholds_months):
            raise ValueError("expiry thresholds must be distinct")
        if self.late_after_days < 0 or self.forget_after_days < 0:
            raise ValueError("late_after_days and forget_after_days must not be negative")


@dataclass(frozen=True)
class TrackedDate:
    kind: DateKind
    target: date
    known_since: date  # valid time at which this date was set (signature, extension, ...)


@dataclass(frozen=True)
class ContractSchedule:
    contract_id: str
    contract_kind: str
    dates: tuple[TrackedDate, ...]
    recipients: tuple[str, ...]
    active: bool = True  # False once terminated


@dataclass(frozen=True)
class Stage:
    name: str
    months_before: int
    due_on: date


@dataclass(frozen=True)
class DueWarning:
    contract_id: str
    contract_kind: str
    date_kind: DateKind
    target_date: date
    stage: str
    months_before: int
    due_on: date
    late: bool
    recipients: tuple[str, ...]

    @property
    def key(self) -> str:
        return warning_key(self.contract_id, self.date_kind, self.target_date, self.stage)

    @property
    def command_id(self) -> str:
        return warning_command_id(self.key)


def warning_key(contract_id: str, date_kind: str, target_date: date, stage: str) -> str:
    return f"{contract_id}|{date_kind}|{target_date.isoformat()}|{stage}"


def warning_command_id(key: str) -> str:
    # Deterministic: every notifier instance derives the same command id (and Nats-Msg-Id).
    return "xw-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier, clamped to the month's last day (31 Aug - 6m = 28 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def stages(target: date, policy: ExpiryPolicy) -> list[Stage]:
    """All stages of one date, earliest due first, ending with the date itself."""
    result = [
        Stage(f"{m}m", m, months_before(target, m))
        for m in sorted(policy.thresholds_months, reverse=True)
    ]
    result.append(Stage(EXPIRY, 0, target))
    return result


def tracked_dates(
    end: date, end_known_since: date, max_extent: date | None, max_known_since: date | None
) -> tuple[TrackedDate, ...]:
    dates = [TrackedDate("end", end, end_known_since)]
    if max_extent is not None and max_extent != end:
        dates.append(TrackedDate("max_extent", max_extent, max_known_since or end_known_since))
    return tuple(dates)


def due_warnings(
    schedule: ContractSchedule,
    today: date,
    policy: ExpiryPolicy,
    raised: frozenset[str] = frozenset(),
) -> list[DueWarning]:
    """The warnings to raise today that are not in `raised` (keys of warnings already out)."""
    if not schedule.active:
        return []
    result = []
    for tracked in schedule.dates:
        if (today - tracked.target).days > policy.forget_after_days:
            continue
        due = [
            s for s in stages(tracked.target, policy) if tracked.known_since <= s.due_on <= today
        ]
        if not due:
            continue
        latest = due[-1]
        warning = DueWarning(
            contract_id=schedule.contract_id,
            contract_kind=schedule.contract_kind,
            date_kind=tracked.kind,
            target_date=tracked.target,
            stage=latest.name,
            months_before=latest.months_before,
            due_on=latest.due_on,
            late=(today - latest.due_on).days > policy.late_after_days,
            recipients=schedule.recipients,
        )
        if warning.key not in raised:
            result.append(warning)
    return result
