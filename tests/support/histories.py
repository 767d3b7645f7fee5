"""Generated histories of valid commands, for property tests over the whole system.

`histories()` is a hypothesis strategy of ordered lists of the real command models of
`contracts_schema` (registry and enrolment). Every command carries a fixed, unique
`command_id` and an explicit `occurred_at` (valid time, 2014-2024, between 07:00 and 20:00
UTC so that its UTC date and its Dutch date agree). Sent in order to a fresh or a shared
system, every command is accepted and records at least one event; ids are namespaced per
drawn history (`h<n>-...`, organisation codes derived from `n`), so many histories can go
through one system. `tests/integration/test_generated_histories.py` proves it.

A history covers: the CBS municipality load (a few real rows, as CSV), sometimes a past
merger of two of its own municipalities learned after their load (their registrations dated
back first), registering the
coordinating association, public bodies and suppliers, a rename; programmes with a
predecessor and a successor link (sometimes recorded late); 1-3 tenders of 1-3 lots each
with prior information notice, market consultation, pause/resume before and after
publication, an enrolment window (enrol per lot, change lots, withdraw, extend, freeze),
publication against the frozen list, clarifications and corrections (sometimes recorded
late); per lot bids, provisional award, revision, withdrawal and re-award, review
proceedings (sometimes learned after the standstill ended), the recorded standstill end, a
definitive award, lot cancellation; tender cancellation and successor links; framework and
plain contracts with extensions, amendments (end date, maximum extent, value), transfers,
termination or expiry and amendments backdated behind them; call-offs under frameworks by
enrolled participants, direct or after a mini-competition (AwardCallOff: the one way a
call-off is concluded, and then a contract under its call-off id).

Backdating: tenders' storylines (and the lots of one tender, and call-offs among a
framework's changes) are interleaved, so many commands carry an `occurred_at` earlier than
the command before them; on top of that some facts are deliberately recorded late (see
`backdated`). Within one aggregate only where the rules allow it: the deciders compare a
few dates (bids and award not before publication, a revision not before the decision,
contract changes not before signing and not after the contract ended, standstill) and
otherwise check the state as recorded.

How a property test uses it::

    @given(history=histories())
    async def test_views_agree(bus, history):
        recorded = []
        for command in history:
            assert isinstance(await bus.send(command, "coordinator:test"), CommandAccepted)
            recorded.append(datetime.now(UTC))  # after the reply: this command is known
        for as_of, known_at in horizons(history, recorded):
            ...  # ask every view at (as_of, known_at) and compare them with each other
                 # (or with a fold of `history[: known_through(recorded, known_at)]`)

`horizons(history)` alone gives valid-time horizons at the present knowledge
(`known_at=None`): the days before, of and after each valid date and every standstill
boundary, thinned to `limit`. With `recorded` (one wall-clock instant per command, taken
after its reply) it adds knowledge-time checkpoints: after command i the system knew
exactly `history[: i + 1]`, whatever their valid dates; `known_through` maps a `known_at`
back to that prefix length. A knownAt before the first recording knows nothing.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from typing import TypeVar
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st

from contracts_schema.base import Command
from contracts_schema.enrolment import commands as en
from contracts_schema.enrolment.events import CallOffProcedure, OrganisationKind
from contracts_schema.registry import commands as rg
from contracts_schema.registry.values import (
    ContractKind,
    ContractSupplier,
    Lot,
    Procedure,
    ReviewOutcome,
)

T = TypeVar("T")

FIRST_DAY = date(2014, 1, 6)
LAST_DAY = date(2024, 12, 31)
# Aanbestedingswet 2012 art. 2.127 as the registry applies it (registry.domain.rules):
# standstill_ends_on = decision day + 20; a definitive award or signing needs a later day.
STANDSTILL_DAYS = 20
FRAMEWORK_YEARS = 4  # longer frameworks need a duration_rationale (Directive 2014/24/EU 33(1))
DUTCH_TIME = ZoneInfo("Europe/Amsterdam")
PROCEDURES: tuple[Procedure, ...] = (
    "open",
    "restricted",
    "competitive_procedure_with_negotiation",
    "national",
)
REVIEW_OUTCOMES: tuple[ReviewOutcome, ...] = (
    "award_upheld",
    "settled",
    "withdrawn",
    "award_annulled",
)
BODY_KINDS: tuple[OrganisationKind, ...] = ("ministry", "province", "water_board", "zbo")

Horizon = tuple[date, datetime | None]

NAMED_DAYS = (
    "start_date", "end_date", "max_extent_date", "new_end_date", "opens_on", "started_on",
    "ended_on", "awarded_on", "frozen_on", "enrolled_on", "withdrawn_on",
)  # fmt: skip

_NAMESPACES = itertools.count(1)
MAX_TENDERS = 3
MIN_SIZE = 15  # commands; a shorter history gets another tender
GROW_BELOW = 30  # commands; a longer one gets no further tender
MAX_SIZE = 60  # commands; the optional past merger only fits below it
PAST_MERGER = 4  # commands of `_past_merger`


def _shipped_municipalities() -> list[tuple[str, str, str]]:
    text = files("enrolment").joinpath("data/municipalities.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
    return [(code, name, province) for code, name, province in rows if code]


MUNICIPALITIES = _shipped_municipalities()


def municipality_csv(rows: Sequence[tuple[str, str, str]]) -> str:
    """The CSV a LoadMunicipalities carries, quoted where needed ("Nuenen, Gerwen en ...")."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([("cbs_code", "name", "province"), *rows])
    return buffer.getvalue()


def valid_on(command: Command) -> date:
    """The Dutch calendar day of a command's valid time (what the registry's rules use)."""
    assert command.occurred_at is not None, "generated commands carry their valid time"
    return command.occurred_at.astimezone(DUTCH_TIME).date()


def backdated(history: Sequence[Command]) -> list[int]:
    """Positions of commands whose valid time precedes the command recorded before them."""
    return [
        i
        for i in range(1, len(history))
        if _at(history[i]) < _at(history[i - 1])  # strictly earlier instant
    ]


def between_facts(history: Sequence[Command]) -> list[int]:
    """Positions of facts recorded late *between* facts of their own aggregate recorded
    before them: by day after one of them and before another (the owner decides these on
    the aggregate as it was on their day: `eventstore.valid_order`)."""
    days: dict[tuple[str, str], list[date]] = {}
    found = []
    for i, command in enumerate(history):
        key = _aggregate(command)
        if key is None:
            continue
        day, earlier = valid_on(command), days.setdefault(key, [])
        if any(d < day for d in earlier) and any(d > day for d in earlier):
            found.append(i)
        earlier.append(day)
    return found


def _aggregate(command: Command) -> tuple[str, str] | None:
    """The aggregate a tender, window or contract command is about (None: another)."""
    if isinstance(command, rg.ContractCommand):
        return "contract", command.contract_id
    tender_id = getattr(command, "tender_id", None)
    if tender_id is None or isinstance(command, rg.SignContract):
        return None
    return ("window" if command.command_type in _WINDOW_COMMANDS else "tender"), tender_id


_WINDOW_COMMANDS = frozenset(
    c.command_type
    for c in (
        en.OpenEnrolmentWindow,
        en.EnrolParticipant,
        en.WithdrawParticipant,
        en.ExtendEnrolmentWindow,
        en.CloseEnrolmentWindow,
    )
)


LATE_BETWEEN = ("amend-end-late", "enrol-late")  # the slugs of facts learned late between


@functools.cache
def with_facts_between(namespace: int = 900_001) -> list[Command]:
    """One history (fixed, in its own namespace) with both kinds of fact learned late
    between facts of its aggregate: an explicit example for the property tests, so the
    bounded normal suite always has them."""
    found: list[Command] = find(
        histories(namespace=namespace),
        lambda history: all(
            any(slug in history[i].command_id for i in between_facts(history))
            for slug in LATE_BETWEEN
        ),
        settings=settings(
            derandomize=True,
            database=None,
            max_examples=2000,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    return found


def command_types(history: Sequence[Command]) -> Counter[str]:
    return Counter(c.command_type for c in history)


def _at(command: Command) -> datetime:
    assert command.occurred_at is not None
    return command.occurred_at


# --- horizons ----------------------------------------------------------------------------


def horizons(
    history: Sequence[Command],
    recorded: Sequence[datetime] = (),
    *,
    limit: int = 24,
    checkpoints: int = 8,
) -> list[Horizon]:
    """Interesting (as_of, known_at) pairs for a history; known_at None means "now".

    Valid-time horizons (known_at None): the day before the first fact, the day after the
    last, and around every valid date plus the dates a command names itself (contract
    terms, enrolment windows, standstill boundaries), thinned evenly to `limit`.
    Knowledge checkpoints (when `recorded` holds one instant per command, taken after its
    reply): for up to `checkpoints` commands i, known_at = recorded[i] paired with command
    i's valid date and with the day after the last fact; plus a known_at just before the
    first recording (nothing known yet).
    """
    if not history:
        return []
    days: set[date] = set()
    for command in history:
        on = valid_on(command)
        days.update((on - timedelta(days=1), on, on + timedelta(days=1)))
        days.update(_named_days(command))
    first, last = min(days), max(valid_on(c) for c in history) + timedelta(days=1)
    ordered = sorted(d for d in days if first <= d <= last)
    chosen = _thin(ordered, limit)
    result: list[Horizon] = [(day, None) for day in chosen]
    if recorded:
        if len(recorded) != len(history):
            raise ValueError("recorded needs one instant per command, taken after its reply")
        result.append((last, recorded[0] - timedelta(milliseconds=1)))
        for i in _thin(list(range(len(history))), checkpoints):
            result.append((valid_on(history[i]), recorded[i]))
            result.append((last, recorded[i]))
    return list(dict.fromkeys(result))


def known_through(recorded: Sequence[datetime], known_at: datetime | None) -> int:
    """How many commands of the history the system knew at `known_at` (all when None)."""
    if known_at is None:
        return len(recorded)
    return sum(1 for instant in recorded if instant <= known_at)


def _named_days(command: Command) -> list[date]:
    named: list[date] = []
    for name in NAMED_DAYS:
        value = getattr(command, name, None)
        if isinstance(value, date):
            named.append(value)
    if isinstance(command, (en.OpenEnrolmentWindow, en.ExtendEnrolmentWindow)):
        named.append(command.closes_on + timedelta(days=1))
    if isinstance(command, (rg.DecideProvisionalAward, rg.ReviseProvisionalAward)):
        ends = valid_on(command) + timedelta(days=STANDSTILL_DAYS)
        named.extend((ends, ends + timedelta(days=1)))
    return named


def _thin(items: Sequence[T], limit: int) -> list[T]:
    """At most `limit` items, evenly spread, always keeping the first and the last."""
    if len(items) <= limit:
        return list(items)
    if limit <= 1:
        return list(items[:limit])
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


# --- the generator -----------------------------------------------------------------------


@dataclass
class _Orgs:
    coordinator: str
    bodies: list[str]  # public bodies that are not municipalities: enrol, take transfers
    municipalities: list[str]
    suppliers: list[str]
    names: dict[str, str]

    @property
    def authorities(self) -> list[str]:
        return [self.coordinator, *self.bodies]


@dataclass
class _LotOutcome:
    lot_id: str
    commands: list[Command] = field(default_factory=list)
    winners: tuple[str, ...] = ()
    awarded_on: date | None = None  # set when definitive
    final: bool = False  # definitively awarded or cancelled
    last_day: date = FIRST_DAY


@dataclass(frozen=True)
class _ContractMoment:
    """The contract as recorded after one of its commands: when call-offs may be concluded."""

    start: date
    end: date
    ended_on: date | None  # terminated or expired (valid date)

    def last_call_off_day(self) -> date:
        last = min(self.end, LAST_DAY)
        if self.ended_on is not None:
            last = min(last, self.ended_on - timedelta(days=1))
        return last


class _Builder:
    def __init__(self, draw: st.DrawFn, namespace: int) -> None:
        self.draw = draw
        self.ns = namespace
        self._serial = itertools.count(1)

    def cid(self, slug: str) -> str:
        return f"h{self.ns}-{next(self._serial):03d}-{slug}"

    def n(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def maybe(self, percent: int) -> bool:
        # Shrinks towards "no": a minimal failing history has as few options as possible.
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def pick(self, items: Sequence[T]) -> T:
        return self.draw(st.sampled_from(items))

    def some(self, items: Sequence[T], lo: int = 1, hi: int | None = None) -> list[T]:
        hi = len(items) if hi is None else min(hi, len(items))
        chosen = self.draw(
            st.lists(st.sampled_from(range(len(items))), min_size=lo, max_size=hi, unique=True)
        )
        return [items[i] for i in sorted(chosen)]

    def after(self, day: date, lo: int, hi: int) -> date:
        return day + timedelta(days=self.n(lo, hi))

    def between(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.n(0, max(0, (hi - lo).days)))

    def at(self, day: date) -> datetime:
        hour, minute = self.n(7, 19), self.pick((0, 15, 30, 45))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    def interleave(self, stories: Sequence[Sequence[T]]) -> list[T]:
        """Merge storylines in a drawn order, keeping each storyline's own order."""
        labels = [i for i, story in enumerate(stories) for _ in story]
        order = self.draw(st.permutations(labels))
        cursors = [iter(story) for story in stories]
        return [next(cursors[i]) for i in order]


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@st.composite
def histories(draw: st.DrawFn, namespace: int | None = None) -> list[Command]:
    """An ordered list of commands the system accepts, ~15-60 of them (see module doc).

    `namespace` fixes the id namespace (default: a fresh one per drawn history, so that
    histories never collide in one system).
    """
    h = _Builder(draw, next(_NAMESPACES) if namespace is None else namespace)
    setup, orgs, programmes, late = _setup(h)
    wanted = h.n(1, MAX_TENDERS)
    tenders: list[tuple[str, list[Command]]] = []
    size = len(setup) + len(late)
    # Bounded: another tender only while the history is short; at least MIN_SIZE commands.
    while len(tenders) < MAX_TENDERS and (not tenders or size < MIN_SIZE or (
        len(tenders) < wanted and size < GROW_BELOW
    )):  # fmt: skip
        tender_id = f"h{h.ns}-t{len(tenders) + 1}"
        max_lots = 3 if wanted == 1 else 2
        story = _tender(h, tender_id, orgs, programmes, max_lots)
        tenders.append((tender_id, story))
        size += len(story)
    for (tender_id, story), (successor, _) in itertools.pairwise(tenders):
        if h.maybe(40):
            story.append(
                rg.LinkSuccessorTender(
                    command_id=h.cid("successor"),
                    occurred_at=h.at(h.after(max(valid_on(c) for c in story), 0, 30)),
                    tender_id=tender_id,
                    successor_tender_id=successor,
                )
            )
    size = len(setup) + len(late) + sum(len(story) for _, story in tenders)
    if size + PAST_MERGER <= MAX_SIZE and h.maybe(40):
        late = [*late, *_past_merger(h, valid_on(setup[0]))]
    stories = [late, *(story for _, story in tenders)]
    return setup + _links_after_successors(h.interleave(stories))


def _links_after_successors(commands: list[Command]) -> list[Command]:
    """A successor link names a planned tender (SUCCESSOR_TENDER_NOT_FOUND): a link drawn
    before its successor's planning moves to just after it (it is its story's last command,
    so its own story keeps its order)."""
    out = list(commands)
    for link in [c for c in commands if isinstance(c, rg.LinkSuccessorTender)]:
        planned = next(
            i for i, c in enumerate(out)
            if isinstance(c, rg.PlanTender) and c.tender_id == link.successor_tender_id
        )  # fmt: skip
        at = out.index(link)
        if at < planned:
            out.insert(planned, out.pop(at))  # after the pop, `planned` is one past it
    return out


def _setup(h: _Builder) -> tuple[list[Command], _Orgs, list[str], list[Command]]:
    """Reference data, organisations and programmes; plus a late-recorded programme link."""
    ns = h.ns
    rows = h.some(MUNICIPALITIES, lo=3, hi=6)
    csv_text = municipality_csv(rows)
    day = h.after(FIRST_DAY, 0, 5)
    out: list[Command] = [
        en.LoadMunicipalities(
            command_id=h.cid("load-municipalities"),
            occurred_at=h.at(day),
            source=f"h{ns}-municipalities.csv",
            csv_text=csv_text,
        )
    ]
    names = {code: name for code, name, _ in rows}
    coordinator = f"KVK-{70_000_000 + ns % 10_000_000:08d}"
    names[coordinator] = f"Inkoopsamenwerking {ns}"
    bodies = [f"OIN-{ns:010d}{i:010d}" for i in range(1, h.pick((1, 2, 0, 1, 2)) + 1)]
    suppliers = [f"KVK-{(80_000_000 + ns * 8 + i) % 100_000_000:08d}" for i in range(h.n(2, 5))]
    registrations: list[tuple[str, OrganisationKind]] = [(coordinator, "association")]
    for body in bodies:
        kind = h.pick(BODY_KINDS)
        names[body] = f"{kind.replace('_', ' ').title()} {body[-4:]} ({ns})"
        registrations.append((body, kind))
    for supplier in suppliers:
        names[supplier] = f"Leverancier {supplier[-4:]} B.V."
        registrations.append((supplier, "supplier"))
    for code, kind in registrations:
        day = h.after(day, 0, 3)
        out.append(
            en.RegisterOrganisation(
                command_id=h.cid(f"register-{code}"),
                occurred_at=h.at(day),
                code=code,
                name=names[code],
                kind=kind,
            )
        )
    if h.maybe(30):
        renamed = h.pick([coordinator, *suppliers])
        names[renamed] = f"{names[renamed]} (nieuwe naam)"
        day = h.after(day, 1, 20)
        out.append(
            en.RenameOrganisation(
                command_id=h.cid(f"rename-{renamed}"),
                occurred_at=h.at(day),
                code=renamed,
                name=names[renamed],
            )
        )
    municipalities = [code for code, _, _ in rows]
    orgs = _Orgs(coordinator, bodies, municipalities, suppliers, names)
    programmes = [f"h{ns}-p1"]
    day = h.after(day, 0, 10)
    out.append(
        rg.PlanProgramme(
            command_id=h.cid("programme-p1"),
            occurred_at=h.at(day),
            programme_id=programmes[0],
            name=f"Programma {ns}-1",
            coordinator=coordinator,
            description="Gezamenlijke inkoop (gegenereerd)" if h.maybe(50) else None,
        )
    )
    late: list[Command] = []
    if h.maybe(50):
        programmes.append(f"h{ns}-p2")
        day = h.after(day, 1, 60)
        out.append(
            rg.PlanProgramme(
                command_id=h.cid("programme-p2"),
                occurred_at=h.at(day),
                programme_id=programmes[1],
                name=f"Programma {ns}-2",
                coordinator=coordinator,
                predecessor_programme_id=programmes[0],
            )
        )
        link = rg.LinkSuccessorProgramme(
            command_id=h.cid("programme-link"),
            occurred_at=h.at(day),
            programme_id=programmes[0],
            successor_programme_id=programmes[1],
        )
        # Recorded right away, or learned later: then it lands among the tenders' facts.
        (late if h.maybe(50) else out).append(link)
    return out, orgs, programmes, late


def _past_merger(h: _Builder, loaded: date) -> list[Command]:
    """A municipal merger learned after the list was loaded, dated before the load.

    Two municipalities of this history only (codes GM5000-GM9999, which the CBS does not
    use, so that no other history in the system shares them and nothing enrols them): loaded
    with a valid time after the merger, then each registration sent again dated back (the
    same details, an earlier occurredAt), then the merger between the two days. A merger
    dated before the load alone is refused (ORGANISATION_NOT_YET_REGISTERED).
    """
    ns = h.ns
    merged, successor = (f"GM{5000 + (2 * ns + i) % 5000:04d}" for i in (0, 1))
    province = h.pick(("Utrecht", "Gelderland", "Overijssel"))
    rows = [(merged, f"Oudgemeente {ns}", province), (successor, f"Nieuwgemeente {ns}", province)]
    load_day = h.after(loaded, 30, 400)
    back = max(FIRST_DAY, load_day - timedelta(days=h.n(20, 300)))
    merged_on = h.between(back, load_day - timedelta(days=1))
    out: list[Command] = [
        en.LoadMunicipalities(
            command_id=h.cid("load-merging"),
            occurred_at=h.at(load_day),
            source=f"h{ns}-herindeling.csv",
            csv_text=municipality_csv(rows),
        )
    ]
    for code, name, _ in rows:
        out.append(
            en.RegisterOrganisation(
                command_id=h.cid(f"register-back-{code}"),
                occurred_at=h.at(back),
                code=code,
                name=name,
                kind="municipality",
                province=province,
            )
        )
    out.append(
        en.MergeMunicipality(
            command_id=h.cid(f"merge-{merged}"),
            occurred_at=h.at(merged_on),
            code=merged,
            successor_code=successor,
            effective_on=merged_on,
        )
    )
    return out


def _tender(
    h: _Builder,
    tid: str,
    orgs: _Orgs,
    programmes: list[str],
    max_lots: int,
) -> list[Command]:
    lots = [Lot(lot_id=f"lot{i}", title=f"Perceel {i}") for i in range(1, h.n(1, max_lots) + 1)]
    lot_ids = [lot.lot_id for lot in lots]
    framework = h.maybe(60)
    authority = h.pick(orgs.authorities)
    day = FIRST_DAY + timedelta(days=h.n(30, 3 * 365))
    out: list[Command] = [
        rg.PlanTender(
            command_id=h.cid(f"plan-{tid}"),
            occurred_at=h.at(day),
            tender_id=tid,
            programme_id=h.pick([None, *programmes]),
            title=f"Aanbesteding {tid}",
            contracting_authority=authority,
            procedure=h.pick(PROCEDURES),
            framework=framework,
            lots=lots,
        )
    ]
    # Before publication, while planned: notice, consultation, a pause.
    if h.maybe(40):
        day = h.after(day, 1, 20)
        out.append(
            rg.PublishPriorInformationNotice(
                command_id=h.cid("pin"),
                occurred_at=h.at(day),
                tender_id=tid,
                notice_reference=f"PIN {tid}",
            )
        )
    if h.maybe(35):
        started = h.after(day, 1, 10)
        ended = h.after(started, 0, 20)
        day = h.after(ended, 0, 5)
        out.append(
            rg.HoldMarketConsultation(
                command_id=h.cid("consultation"),
                occurred_at=h.at(day),
                tender_id=tid,
                started_on=started,
                ended_on=ended,
                summary="Marktconsultatie over de percelen",
            )
        )
    if h.maybe(25):
        day = _pause_and_resume(h, tid, day, out, "before publication")
    if h.maybe(8):  # stopped before any enrolment
        out.append(_cancel_tender(h, tid, h.after(day, 1, 30)))
        return out
    day, frozen_list = _enrolment(h, tid, lot_ids, orgs, day, out)
    if not frozen_list:  # cancelled after the window opened
        return out
    publication = h.after(day, 0, 20)
    day = publication
    out.append(
        rg.PublishTender(
            command_id=h.cid("publish"),
            occurred_at=h.at(day),
            tender_id=tid,
            notice_reference=f"TenderNed {tid}",
        )
    )
    for _ in range(h.n(0, 2)):
        day = h.after(day, 1, 15)
        out.append(_clarify_or_correct(h, tid, day))
    if h.maybe(25):
        day = _pause_and_resume(h, tid, day, out, "after publication")
    outcomes = [_lot(h, tid, lot_id, day, orgs.suppliers, framework) for lot_id in lot_ids]
    out.extend(h.interleave([o.commands for o in outcomes]))
    last = max([day, *(o.last_day for o in outcomes)])
    if h.maybe(25):  # a clarification learned late, dated back to before the first bids
        out.append(_clarify_or_correct(h, tid, h.between(publication, day)))
    awarded = [o for o in outcomes if o.awarded_on is not None]
    if any(not o.final for o in outcomes) and h.maybe(50):
        last = h.after(last, 1, 30)
        out.append(_cancel_tender(h, tid, last))
    if awarded:
        out.extend(_contracts(h, tid, framework, authority, awarded, frozen_list, orgs))
    return out


def _pause_and_resume(h: _Builder, tid: str, day: date, out: list[Command], when: str) -> date:
    paused = h.after(day, 1, 10)
    out.append(
        rg.PauseTender(
            command_id=h.cid("pause"),
            occurred_at=h.at(paused),
            tender_id=tid,
            reason=f"Gepauzeerd {when}",
        )
    )
    day = paused
    if when == "after publication" and h.maybe(40):  # clarified while paused
        day = h.after(day, 0, 5)
        out.append(_clarify_or_correct(h, tid, day))
    day = h.after(day, 1, 30)
    out.append(
        rg.ResumeTender(
            command_id=h.cid("resume"),
            occurred_at=h.at(day),
            tender_id=tid,
            reason="Hervat" if h.maybe(50) else None,
        )
    )
    return day


def _clarify_or_correct(h: _Builder, tid: str, day: date) -> Command:
    if h.maybe(50):
        return rg.ClarifyTender(
            command_id=h.cid("clarify"),
            occurred_at=h.at(day),
            tender_id=tid,
            summary="Nota van inlichtingen",
        )
    return rg.CorrectTender(
        command_id=h.cid("correct"),
        occurred_at=h.at(day),
        tender_id=tid,
        summary="Rectificatie van de aankondiging",
        notice_reference=f"Rectificatie {tid}" if h.maybe(50) else None,
    )


def _cancel_tender(h: _Builder, tid: str, day: date) -> Command:
    return rg.CancelTender(
        command_id=h.cid("cancel-tender"),
        occurred_at=h.at(day),
        tender_id=tid,
        reason="Aanbesteding ingetrokken",
    )


def _enrolment(
    h: _Builder, tid: str, lot_ids: list[str], orgs: _Orgs, day: date, out: list[Command]
) -> tuple[date, dict[str, frozenset[str]]]:
    """Open the window, enrol, maybe withdraw/re-enrol/extend, freeze. Returns the frozen list."""
    opens = h.after(day, 1, 15)
    closes = h.after(opens, 14, 60)
    window_lots = lot_ids if h.maybe(80) else h.some(lot_ids)
    out.append(
        en.OpenEnrolmentWindow(
            command_id=h.cid("window"),
            occurred_at=h.at(opens),
            tender_id=tid,
            lot_ids=window_lots,
            opens_on=opens,
            closes_on=closes,
        )
    )
    if h.maybe(5):  # stopped while bodies could still enrol
        out.append(_cancel_tender(h, tid, h.after(opens, 1, 10)))
        return opens, {}
    candidates = [*orgs.municipalities, *orgs.bodies]
    enrolling = h.some(candidates, lo=1, hi=4)
    steps: list[Command] = []
    participants: dict[str, frozenset[str]] = {}
    last = opens
    enrolled_on: dict[str, date] = {}
    for code in enrolling:  # drawn order, drawn days: enrolments are often backdated
        lots = h.some(window_lots)
        on = h.between(opens, closes)
        steps.append(_enrol(h, tid, code, lots, on))
        participants[code] = frozenset(lots)
        enrolled_on[code] = on
        last = max(last, on)
    first_on = dict(enrolled_on)  # each body's first recorded enrolment
    if len(window_lots) > 1 and h.maybe(15):  # a body changes the lots it enrols for
        code = h.pick(list(participants))
        lots = h.some(window_lots)
        if frozenset(lots) != participants[code]:
            # Not before its first enrolment: a body's enrolments follow each other in valid
            # time as recorded (DATE_OUT_OF_ORDER), so every view counts the same one last.
            on = h.between(enrolled_on[code], closes)
            steps.append(_enrol(h, tid, code, lots, on))
            participants[code] = frozenset(lots)
            enrolled_on[code] = on  # the enrolment recorded last is the one that counts
            last = max(last, on)
    if len(participants) > 1 and h.maybe(25):
        code = h.pick(list(participants))
        on = h.between(enrolled_on[code], closes)  # a body withdraws after it enrolled
        explicit = h.maybe(50)
        steps.append(
            en.WithdrawParticipant(
                command_id=h.cid(f"withdraw-{code}"),
                occurred_at=h.at(on),
                tender_id=tid,
                organisation_code=code,
                withdrawn_on=on if explicit else None,
            )
        )
        del participants[code]
        last = max(last, on)
    if h.maybe(25):  # extended somewhere along the way
        at = h.n(0, len(steps))
        closes = h.after(closes, 1, 30)
        extension = en.ExtendEnrolmentWindow(
            command_id=h.cid("extend-window"),
            occurred_at=h.at(h.between(opens, last)),
            tender_id=tid,
            closes_on=closes,
        )
        steps.insert(at, extension)
    out.extend(steps)
    frozen = h.after(closes, 0, 3) if h.maybe(80) else h.between(last, closes)
    explicit = h.maybe(50)
    out.append(
        en.CloseEnrolmentWindow(
            command_id=h.cid("freeze"),
            occurred_at=h.at(frozen),
            tender_id=tid,
            frozen_on=frozen if explicit else None,
        )
    )
    early = [code for code, on in first_on.items() if on > opens]
    if early and h.maybe(30):
        # Learned late (even after the freeze): the body had enrolled before its first
        # recorded enrolment. By day it comes first; its later enrolment (or withdrawal)
        # still counts last, so the frozen list is the same.
        code = h.pick(early)
        on = h.between(opens, first_on[code] - timedelta(days=1))
        out.append(_enrol(h, tid, code, h.some(window_lots), on, "enrol-late"))
    return frozen, participants


def _enrol(
    h: _Builder, tid: str, code: str, lots: list[str], on: date, slug: str = "enrol"
) -> Command:
    explicit = h.maybe(50)
    return en.EnrolParticipant(
        command_id=h.cid(f"{slug}-{code}"),
        occurred_at=h.at(on),
        tender_id=tid,
        organisation_code=code,
        lot_ids=lots,
        power_of_attorney_ref=f"VOLMACHT-{tid}-{code}",
        enrolled_on=on if explicit else None,
    )


def _lot(
    h: _Builder, tid: str, lot_id: str, published: date, suppliers: list[str], framework: bool
) -> _LotOutcome:
    lot = _LotOutcome(lot_id)
    out = lot.commands

    def emit(command: Command) -> None:
        out.append(command)
        lot.last_day = max(lot.last_day, valid_on(command))

    def cancel(day: date) -> _LotOutcome:
        emit(
            rg.CancelLot(
                command_id=h.cid(f"cancel-{lot_id}"),
                occurred_at=h.at(day),
                tender_id=tid,
                lot_id=lot_id,
                reason="Perceel geschrapt",
            )
        )
        lot.final = True
        return lot

    fate = h.n(0, 99)
    if fate < 8:
        return cancel(h.after(published, 1, 30))
    if fate < 14:
        return lot  # stays open
    bidders = h.some(suppliers)
    day = h.after(published, 10, 60)
    emit(
        rg.RecordBids(
            command_id=h.cid(f"bids-{lot_id}"),
            occurred_at=h.at(day),
            tender_id=tid,
            lot_id=lot_id,
            bid_count=len(bidders) + h.n(0, 3),
            bidder_ids=bidders,
        )
    )
    if fate < 18:
        return lot  # bids in, nothing decided yet
    if fate < 21:
        return cancel(h.after(day, 1, 30))

    def winners() -> list[str]:
        return h.some(bidders, lo=1, hi=len(bidders) if framework else 1)

    def decide(day: date) -> None:
        emit(
            rg.DecideProvisionalAward(
                command_id=h.cid(f"provisional-{lot_id}"),
                occurred_at=h.at(day),
                tender_id=tid,
                lot_id=lot_id,
                supplier_ids=winners(),
            )
        )

    def revise(day: date, reason: str) -> None:
        emit(
            rg.ReviseProvisionalAward(
                command_id=h.cid(f"revise-{lot_id}"),
                occurred_at=h.at(day),
                tender_id=tid,
                lot_id=lot_id,
                supplier_ids=winners(),
                reason=reason,
            )
        )

    def standstill_ended(day: date) -> None:
        emit(
            rg.RecordStandstillEnded(
                command_id=h.cid(f"standstill-{lot_id}"),
                occurred_at=h.at(day),
                tender_id=tid,
                lot_id=lot_id,
            )
        )

    decision = h.after(day, 5, 40)
    decide(decision)
    if h.maybe(12):
        day = h.after(decision, 1, 15)
        emit(
            rg.WithdrawProvisionalAward(
                command_id=h.cid(f"withdraw-award-{lot_id}"),
                occurred_at=h.at(day),
                tender_id=tid,
                lot_id=lot_id,
                reason="Gunningsbeslissing ingetrokken na herbeoordeling",
            )
        )
        decision = h.after(day, 1, 20)
        decide(decision)
    if h.maybe(15):
        decision = h.after(decision, 1, STANDSTILL_DAYS - 1)
        revise(decision, "Heroverweging van de beoordeling")
    ends = decision + timedelta(days=STANDSTILL_DAYS)
    ended_recorded = False
    cursor = decision
    if h.maybe(22):
        started = h.after(decision, 1, STANDSTILL_DAYS)
        learned_late = h.maybe(50)
        if learned_late:
            # The standstill's end recorded first; proceedings a claimant started after it
            # (the award still provisional) follow. Proceedings started during the standstill
            # and learned only after its end was recorded cannot be: a standstill "ended
            # without obstacle" has none pending (LATER_FACT_NO_LONGER_APPLIES).
            end_day = h.after(ends, 1, 5)
            standstill_ended(end_day)
            ended_recorded = True
            started = h.after(end_day, 0, 10)
        emit(
            rg.StartReviewProceedings(
                command_id=h.cid(f"review-{lot_id}"),
                occurred_at=h.at(started),
                tender_id=tid,
                lot_id=lot_id,
                forum="Voorzieningenrechter"
                if h.maybe(50)
                else "Commissie van Aanbestedingsexperts",
                claimant_id=h.pick([None, *bidders]),
                reference=f"KG {tid}-{lot_id}" if h.maybe(50) else None,
            )
        )
        cursor = max(lot.last_day, started)
        concluded = h.after(cursor, 10, 60)
        outcome: ReviewOutcome = h.pick(REVIEW_OUTCOMES)
        emit(
            rg.ConcludeReviewProceedings(
                command_id=h.cid(f"review-end-{lot_id}"),
                occurred_at=h.at(concluded),
                tender_id=tid,
                lot_id=lot_id,
                outcome=outcome,
            )
        )
        cursor = concluded
        if outcome == "award_annulled":
            decision = h.after(concluded, 0, 10)
            revise(decision, "Nieuwe beslissing na uitspraak")
            ends = decision + timedelta(days=STANDSTILL_DAYS)
            ended_recorded = False
            cursor = decision
    if not ended_recorded and h.maybe(40):
        cursor = max(cursor, h.after(ends, 1, 5))
        standstill_ended(cursor)
    if fate < 26:
        return lot  # still provisional
    if fate < 30:
        return cancel(h.after(max(cursor, lot.last_day), 1, 20))
    awarded_on = h.after(max(cursor, ends, lot.last_day), 1, 15)
    assert awarded_on > ends
    emit(
        rg.MakeAwardDefinitive(
            command_id=h.cid(f"definitive-{lot_id}"),
            occurred_at=h.at(awarded_on),
            tender_id=tid,
            lot_id=lot_id,
        )
    )
    lot.awarded_on, lot.final = awarded_on, True
    lot.winners = _current_winners(out)
    return lot


def _current_winners(commands: list[Command]) -> tuple[str, ...]:
    for command in reversed(commands):
        if isinstance(command, (rg.DecideProvisionalAward, rg.ReviseProvisionalAward)):
            return tuple(command.supplier_ids)
    raise AssertionError("a definitive award follows a provisional one")


def _contracts(
    h: _Builder,
    tid: str,
    framework: bool,
    authority: str,
    awarded: list[_LotOutcome],
    participants: dict[str, frozenset[str]],
    orgs: _Orgs,
) -> list[Command]:
    if framework:
        by_supplier: dict[str, list[str]] = {}
        for lot in awarded:
            for supplier in lot.winners:
                by_supplier.setdefault(supplier, []).append(lot.lot_id)
        groups = [(f"{tid}-framework", awarded, by_supplier)]
    else:
        groups = [
            (f"{tid}-{lot.lot_id}-contract", [lot], {s: [lot.lot_id] for s in lot.winners})
            for lot in awarded
        ]
    out: list[Command] = []
    for contract_id, lots, suppliers in groups:
        if h.maybe(10):
            continue  # awarded, never signed (yet)
        signed = h.after(max(lot.awarded_on or FIRST_DAY for lot in lots), 1, 30)
        commands, moments = _contract(
            h, contract_id, "framework" if framework else "contract", tid, lots, suppliers,
            authority, orgs, signed,
        )  # fmt: skip
        if framework:
            commands = _with_call_offs(h, contract_id, suppliers, participants, commands, moments)
        out.extend(commands)
    return out


def _contract(
    h: _Builder,
    contract_id: str,
    kind: ContractKind,
    tid: str,
    lots: list[_LotOutcome],
    suppliers: dict[str, list[str]],
    authority: str,
    orgs: _Orgs,
    signed: date,
) -> tuple[list[Command], list[_ContractMoment]]:
    start = h.after(signed, 0, 60)
    end = _add_years(start, h.n(1, 4)) - timedelta(days=1)
    extent = _add_years(end, h.n(1, 3)) if h.maybe(70) else None
    too_long = (extent or end) > _add_years(start, FRAMEWORK_YEARS) - timedelta(days=1)
    out: list[Command] = [
        rg.SignContract(
            command_id=h.cid(f"sign-{contract_id}"),
            occurred_at=h.at(signed),
            contract_id=contract_id,
            kind=kind,
            title=f"Overeenkomst {contract_id}" if h.maybe(70) else None,
            tender_id=tid,
            lot_ids=[lot.lot_id for lot in lots],
            contracting_authority=authority,
            paying_agent=h.pick(orgs.authorities) if h.maybe(20) else None,
            suppliers=[
                ContractSupplier(supplier_id=s, name=orgs.names[s], lot_ids=lot_ids)
                for s, lot_ids in sorted(suppliers.items())
            ],
            start_date=start,
            end_date=end,
            max_extent_date=extent,
            value_eur=float(h.n(1, 500) * 100_000) if h.maybe(70) else None,
            duration_rationale="Lange looptijd om de migratie terug te verdienen"
            if kind == "framework" and too_long
            else None,
        )
    ]
    moments = [_ContractMoment(start, end, None)]
    day = signed
    holder = authority
    ended_on: date | None = None
    for _ in range(h.n(0, 4)):
        last = min(end, LAST_DAY)
        if day >= last:
            break
        previous, day = (
            day,
            h.between(day + timedelta(days=1), min(last, day + timedelta(days=400))),
        )
        command, end, extent, holder = _change(h, contract_id, day, end, extent, holder, orgs)
        out.append(command)
        moments.append(_ContractMoment(start, end, None))
        late = _term_change_learned_late(h, contract_id, previous, command, extent)
        if late is not None:  # by day before the change just made: the present is the same
            out.append(late)
            moments.append(moments[-1])
    ending = h.n(0, 99)
    if ending < 30 and day < min(end, LAST_DAY):
        ended_on = h.between(day + timedelta(days=1), min(end, LAST_DAY))
        out.append(
            rg.TerminateContract(
                command_id=h.cid(f"terminate-{contract_id}"),
                occurred_at=h.at(ended_on),
                contract_id=contract_id,
                reason="Wanprestatie" if h.maybe(50) else "Met wederzijds goedvinden beëindigd",
            )
        )
    elif ending < 60 and end + timedelta(days=1) <= LAST_DAY:
        ended_on = h.between(end + timedelta(days=1), min(end + timedelta(days=30), LAST_DAY))
        out.append(
            rg.ExpireContract(
                command_id=h.cid(f"expire-{contract_id}"),
                occurred_at=h.at(ended_on),
                contract_id=contract_id,
            )
        )
    if ended_on is not None:
        moments.append(_ContractMoment(start, end, ended_on))
        if h.maybe(35):  # an amendment learned after the end, dated while it still ran
            on = h.between(signed, min(end, ended_on - timedelta(days=1)))
            out.append(
                rg.AmendContract(
                    command_id=h.cid(f"amend-late-{contract_id}"),
                    occurred_at=h.at(on),
                    contract_id=contract_id,
                    summary="Indexatie van de tarieven (laat geregistreerd)",
                    new_value_eur=float(h.n(1, 500) * 100_000) if h.maybe(50) else None,
                )
            )
            moments.append(moments[-1])
    return out, moments


def _term_change_learned_late(
    h: _Builder, contract_id: str, previous: date, change: Command, extent: date | None
) -> Command | None:
    """Sometimes, after a change of the end date on day D: an earlier change of the end,
    dated between the change before and D, recorded late. It lands before D's change in
    every view and D's change still applies after it (the owner decides it on the contract
    as it was on its day, then folds D's change again): its new end reaches D and stays
    within the maximum extent; D's change sets the end again, so nothing later moves."""
    if not (isinstance(change, rg.AmendContract) and change.new_end_date and extent):
        return None
    on = valid_on(change)
    if (on - previous).days < 2 or not h.maybe(80):
        return None
    return rg.AmendContract(
        command_id=h.cid(f"amend-end-late-{contract_id}"),
        occurred_at=h.at(h.between(previous + timedelta(days=1), on - timedelta(days=1))),
        contract_id=contract_id,
        summary="Looptijd eerder gewijzigd (laat geregistreerd)",
        new_end_date=h.between(on, extent),
    )


def _change(
    h: _Builder,
    contract_id: str,
    on: date,
    end: date,
    extent: date | None,
    holder: str,
    orgs: _Orgs,
) -> tuple[Command, date, date | None, str]:
    """One change to a running contract on `on` (<= its end): the command and the new state."""
    choices = ["amend_extent", "amend_value"]
    if extent is not None and extent > end:
        choices += ["extend", "extend", "amend_end"]
    takers = [a for a in (*orgs.authorities, *orgs.municipalities) if a != holder]
    choices += ["transfer"] * 2
    choice = h.pick(choices)
    if choice == "extend":
        assert extent is not None
        new_end = h.between(end + timedelta(days=1), extent)
        command: Command = rg.ExtendContract(
            command_id=h.cid(f"extend-{contract_id}"),
            occurred_at=h.at(on),
            contract_id=contract_id,
            new_end_date=new_end,
            option_reference=f"Optie {new_end.year}" if h.maybe(50) else None,
        )
        return command, new_end, extent, holder
    if choice == "amend_end":
        assert extent is not None
        new_end = h.between(max(on, end - timedelta(days=180)), extent)
        if new_end == end:
            new_end = extent
        command = rg.AmendContract(
            command_id=h.cid(f"amend-end-{contract_id}"),
            occurred_at=h.at(on),
            contract_id=contract_id,
            summary="Looptijd gewijzigd",
            new_end_date=new_end,
        )
        return command, new_end, extent, holder
    if choice == "amend_extent":
        new_extent = h.after(end, 0, 3 * 365)
        command = rg.AmendContract(
            command_id=h.cid(f"amend-extent-{contract_id}"),
            occurred_at=h.at(on),
            contract_id=contract_id,
            summary="Maximale looptijd gewijzigd",
            new_max_extent_date=new_extent,
            new_value_eur=float(h.n(1, 500) * 100_000) if h.maybe(30) else None,
        )
        return command, end, new_extent, holder
    if choice == "amend_value":
        command = rg.AmendContract(
            command_id=h.cid(f"amend-value-{contract_id}"),
            occurred_at=h.at(on),
            contract_id=contract_id,
            summary="Waarde gewijzigd",
            new_value_eur=float(h.n(1, 500) * 100_000),
        )
        return command, end, extent, holder
    to = h.pick(takers)
    command = rg.TransferContract(
        command_id=h.cid(f"transfer-{contract_id}"),
        occurred_at=h.at(on),
        contract_id=contract_id,
        to_authority=to,
        paying_agent=h.pick(orgs.authorities) if h.maybe(30) else None,
    )
    return command, end, extent, to


def _with_call_offs(
    h: _Builder,
    framework_id: str,
    suppliers: dict[str, list[str]],
    participants: dict[str, frozenset[str]],
    commands: list[Command],
    moments: list[_ContractMoment],
) -> list[Command]:
    """Insert call-offs among the framework's commands, each valid as recorded there."""
    by_lot: dict[str, list[str]] = {}
    for supplier, lot_ids in sorted(suppliers.items()):
        for lot_id in lot_ids:
            by_lot.setdefault(lot_id, []).append(supplier)
    eligible = [
        (code, lot_id) for code, lots in sorted(participants.items()) for lot_id in sorted(lots)
        if lot_id in by_lot
    ]  # fmt: skip
    if not eligible:
        return commands
    inserted: dict[int, list[Command]] = {}
    for j in range(1, h.n(1, 3) + 1):  # at least one: call-offs are contracts to compare
        code, lot_id = h.pick(eligible)
        position = h.n(1, len(commands))  # after the signature, before command `position`
        moment = moments[position - 1]
        first, last = moment.start, moment.last_call_off_day()
        if first > last:
            continue
        call_off_id = f"{framework_id}-co{j}"
        supplier = h.pick(by_lot[lot_id])
        awarded = h.between(first, last)
        batch = inserted.setdefault(position, [])
        procedure: CallOffProcedure = "direct"
        if h.maybe(40):
            procedure = "mini_competition"
            started = h.between(max(first, awarded - timedelta(days=30)), awarded)
            invited = sorted({supplier, *h.some(by_lot[lot_id])})
            batch.append(
                en.StartMiniCompetition(
                    command_id=h.cid(f"mini-{call_off_id}"),
                    occurred_at=h.at(started),
                    call_off_id=call_off_id,
                    framework_contract_id=framework_id,
                    lot_id=lot_id,
                    participant_code=code,
                    invited_supplier_ids=invited,
                    started_on=started,
                )
            )
        start = h.after(awarded, 0, 30)
        end = h.after(start, 30, 3 * 365)
        batch.append(
            en.AwardCallOff(
                command_id=h.cid(f"call-off-{call_off_id}"),
                occurred_at=h.at(awarded),
                call_off_id=call_off_id,
                framework_contract_id=framework_id,
                lot_id=lot_id,
                participant_code=code,
                supplier_id=supplier,
                procedure=procedure,
                awarded_on=awarded,
                start_date=start,
                end_date=end,
                value_eur=float(h.n(1, 100) * 10_000) if h.maybe(50) else None,
            )
        )
    merged: list[Command] = []
    for i, command in enumerate(commands):
        merged.extend(inserted.get(i, []))
        merged.append(command)
    merged.extend(inserted.get(len(commands), []))
    return merged


# --- facts before their aggregate's first day ----------------------------------------------


def before_creation(history: Sequence[Command]) -> list[tuple[Command, str]]:
    """Commands dated the day before their aggregate's first fact in `history`, each with the
    code the owner refuses it with (every view folds by day: it would land before the
    aggregate exists). Sent after the history, none may be recorded or parked by a view.

    One per aggregate kind the history has: an organisation (its registration, or the
    earliest one dated back), a programme, a tender. (An enrolment window's facts of its own
    period may precede the day its opening was recorded as valid: its fold keeps them.)
    """
    probes: list[tuple[Command, str]] = []
    first = history[0].command_id.split("-", 1)[0]  # the history's namespace, h<n>

    def day_before(command: Command) -> datetime:
        return _at(command) - timedelta(days=1)

    registered: dict[str, Command] = {}
    for command in history:
        if isinstance(command, en.RegisterOrganisation) and (
            command.code not in registered or _at(command) < _at(registered[command.code])
        ):
            registered[command.code] = command
    if registered:
        code, registration = next(iter(registered.items()))
        probes.append((
            en.RenameOrganisation(
                command_id=f"{first}-probe-rename", occurred_at=day_before(registration),
                code=code, name="Naam van voor de registratie",
            ),
            "ORGANISATION_NOT_YET_REGISTERED",
        ))  # fmt: skip
    programme = next((c for c in history if isinstance(c, rg.PlanProgramme)), None)
    if programme is not None:
        probes.append((
            rg.LinkSuccessorProgramme(
                command_id=f"{first}-probe-link", occurred_at=day_before(programme),
                programme_id=programme.programme_id, successor_programme_id=f"{first}-later",
            ),
            "PROGRAMME_NOT_YET_PLANNED",
        ))  # fmt: skip
    tender = next((c for c in history if isinstance(c, rg.PlanTender)), None)
    if tender is not None:
        probes.append((
            rg.PublishPriorInformationNotice(
                command_id=f"{first}-probe-pin", occurred_at=day_before(tender),
                tender_id=tender.tender_id, notice_reference="PIN van voor de planning",
            ),
            "TENDER_NOT_YET_PLANNED",
        ))  # fmt: skip
    return probes
