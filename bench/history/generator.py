"""A deterministic synthetic history: same seed and size, same events (checked by a hash).

Twenty years of joint procurement: the organisations, programmes with tenders and lots,
enrolments, frameworks with several suppliers, call-offs per participant, amendments,
extensions, transfers and backdated corrections. Stories are generated until the wanted
number of events is reached, then merged in transaction-time order and cut to size, so
every prefix is a consistent history.
"""

from __future__ import annotations

import random
from datetime import date

from bench.history.model import ENROLMENT, REGISTRY, Commit, History
from bench.history.organisations import Bodies, make_bodies
from bench.history.story import HISTORY_START, TODAY, Story, counter, days, iso
from bench.history.tenders import TenderPlan, participant_count, tell_tender

KNOWN_PROGRAMMES = (
    ("OT2006", "Overheidstelecommunicatie 2006", date(2006, 1, 9)),
    ("OT2010", "Overheidstelecommunicatie 2010", date(2009, 3, 2)),
    ("GT", "Gemeentelijke Telecommunicatie", date(2015, 1, 5)),
    ("OT2017", "Overheidstelecommunicatie 2017", date(2016, 4, 19)),
)
SUBJECTS = (
    "Mobiele Communicatie",
    "Vaste Communicatie",
    "Print",
    "Connect",
    "Hardware-werkplek",
    "Software Broker",
    "Datacenter",
    "Netwerkdiensten",
    "Inbound",
    "Werkplekbeheer",
)


def generate(seed: int, events: int) -> History:
    """At most `events` events (fewer only when a commit would overshoot)."""
    if events < 1:
        raise ValueError(f"a history needs at least one event, not {events}")
    rng = random.Random(seed)
    ids = counter()
    bodies = make_bodies(rng)
    commits = _organisations(Story(rng, ids, seed), bodies)
    total = sum(len(c.events) for c in commits)
    programme = 0
    while total < events:
        programme += 1
        story = Story(rng, ids, seed)
        _programme(story, bodies, programme)
        commits += story.commits
        total += sum(len(c.events) for c in story.commits)
    commits.sort(key=lambda c: (c.recorded_at, c.order))
    kept: list[Commit] = []
    count = 0
    for commit in commits:
        if count + len(commit.events) > events:
            break
        kept.append(commit)
        count += len(commit.events)
    return History(seed, tuple(kept))


def _organisations(story: Story, bodies: Bodies) -> list[Commit]:
    rng = story.rng
    for org in bodies.everyone:
        registered = {
            "code": org.code,
            "name": org.name,
            "kind": org.kind,
            "province": org.province,
        }
        since = org.exists_from or HISTORY_START
        story.add(
            ENROLMENT,
            "organisation",
            org.code,
            [("OrganisationRegistered", registered, since)],
            "seed",
        )
    for org in bodies.participants:
        if org.merged_into and org.merged_on:
            merged = {
                "code": org.code,
                "successor_code": org.merged_into,
                "effective_on": iso(org.merged_on),
            }
            story.add(
                ENROLMENT,
                "organisation",
                org.code,
                [("MunicipalityMerged", merged, org.merged_on)],
                "seed",
            )
    for org in rng.sample(bodies.participants[342:], 5):
        renamed_on = HISTORY_START + days(rng.randint(400, 6000))
        renamed = {"code": org.code, "name": f"{org.name} (nieuw)", "previous_name": org.name}
        story.add(
            ENROLMENT,
            "organisation",
            org.code,
            [("OrganisationRenamed", renamed, renamed_on)],
            "seed",
        )
    return sorted(story.commits, key=lambda c: (c.recorded_at, c.order))


def _programme(story: Story, bodies: Bodies, number: int) -> None:
    rng = story.rng
    if number <= len(KNOWN_PROGRAMMES):
        pid, name, started = KNOWN_PROGRAMMES[number - 1]
    else:
        pid = f"P{number:05d}"
        name = f"GT {rng.choice(SUBJECTS)} {number}"
        started = HISTORY_START + days(rng.randrange((TODAY - HISTORY_START).days - 200))
    coordinator = rng.choice(bodies.coordinators)
    started_event = {
        "programme_id": pid,
        "name": name,
        "coordinator": coordinator.code,
        "planned_on": iso(started),
    }
    story.add(
        REGISTRY, "programme", pid, [("ProgrammePlanned", started_event, started)], coordinator.code
    )
    previous: str | None = None
    planned = started
    for k in range(rng.randint(2, 8)):
        planned = planned + days(rng.randint(20, 400))
        tid = f"{pid}-T{k + 1:02d}"
        subject = rng.choice(SUBJECTS)
        second_round = previous is not None and rng.random() < 0.15
        plan = TenderPlan(
            tender_id=tid,
            programme_id=pid,
            title=f"{name}: {subject}{' 2' if second_round else ''}",
            authority=coordinator,
            planned_on=planned,
            framework=rng.random() < 0.7,
            lot_count=rng.choice((1, 1, 2, 2, 3, 4)),
            participant_count=participant_count(rng),
            previous_round=previous if second_round else None,
        )
        tell_tender(story, plan, bodies)
        previous = tid
