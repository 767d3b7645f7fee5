"""One joint tender's life: plan, enrolment, publication, award, contracts, call-offs, changes."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from bench.history.contracts import tell_contract
from bench.history.model import ENROLMENT, REGISTRY
from bench.history.organisations import Bodies, Organisation
from bench.history.story import Story, days, iso

LOT_TITLES = ("Vast", "Mobiel", "Inbound", "EUD", "Werkplek", "Netwerk", "Print", "Licenties")
PROCEDURES = ("open", "restricted", "competitive_dialogue")


@dataclass(frozen=True)
class TenderPlan:
    tender_id: str
    programme_id: str
    title: str
    authority: Organisation
    planned_on: date
    framework: bool
    lot_count: int
    participant_count: int
    previous_round: str | None = None


def participant_count(rng: random.Random) -> int:
    # Log-uniform between 10 and 283 (GT Mobiele Communicatie 1 had 283 participants).
    return round(math.exp(rng.uniform(math.log(10), math.log(283))))


def tell_tender(story: Story, plan: TenderPlan, bodies: Bodies) -> None:
    rng = story.rng
    tid = plan.tender_id
    coordinator = plan.authority.code
    lots = [
        {"lot_id": f"{tid}-L{k + 1}", "title": LOT_TITLES[(k + len(tid)) % len(LOT_TITLES)]}
        for k in range(plan.lot_count)
    ]
    lot_ids = [lot["lot_id"] for lot in lots]
    planned = {
        "tender_id": tid,
        "programme_id": plan.programme_id,
        "title": plan.title,
        "contracting_authority": coordinator,
        "procedure": rng.choice(PROCEDURES),
        "framework": plan.framework,
        "lots": lots,
        "planned_on": iso(plan.planned_on),
    }
    if not story.add(
        REGISTRY, "tender", tid, [("TenderPlanned", planned, plan.planned_on)], coordinator
    ):
        return
    opens = plan.planned_on + days(rng.randint(14, 60))
    closes = opens + days(rng.randint(45, 120))
    window = {
        "tender_id": tid,
        "lot_ids": lot_ids,
        "opens_on": iso(opens),
        "closes_on": iso(closes),
        "previous_round_tender_id": plan.previous_round,
    }
    if not story.add(
        ENROLMENT, "enrolment_window", tid, [("EnrolmentWindowOpened", window, opens)], coordinator
    ):
        return
    if rng.random() < 0.3:
        extended_on = closes - days(rng.randint(1, 10))
        previous_close = closes
        closes = closes + days(rng.randint(7, 30))
        extension = {
            "tender_id": tid,
            "closes_on": iso(closes),
            "previous_closes_on": iso(previous_close),
        }
        story.add(
            ENROLMENT,
            "enrolment_window",
            tid,
            [("EnrolmentWindowExtended", extension, extended_on)],
            coordinator,
        )
    eligible = [o for o in bodies.participants if o.active_on(opens)]
    chosen = rng.sample(eligible, min(plan.participant_count, len(eligible)))
    span = max((closes - opens).days - 1, 1)
    enrolled: dict[str, list[str]] = {}
    for org, offset in sorted(((o, rng.randrange(span)) for o in chosen), key=lambda p: p[1]):
        org_lots = sorted(rng.sample(lot_ids, rng.randint(1, len(lot_ids))))
        enrolment = {
            "tender_id": tid,
            "organisation_code": org.code,
            "lot_ids": org_lots,
            "power_of_attorney_ref": f"VM-{tid}-{org.code}",
            "enrolled_on": iso(opens + days(offset)),
        }
        if story.add(
            ENROLMENT,
            "enrolment_window",
            tid,
            [("ParticipantEnrolled", enrolment, opens + days(offset))],
            org.code,
        ):
            enrolled[org.code] = org_lots
    for code in [c for c in enrolled if rng.random() < 0.03]:
        withdrawal = {
            "tender_id": tid,
            "organisation_code": code,
            "withdrawn_on": iso(closes - days(1)),
        }
        if story.add(
            ENROLMENT,
            "enrolment_window",
            tid,
            [("ParticipantWithdrawn", withdrawal, closes - days(1))],
            code,
        ):
            del enrolled[code]
    frozen = {
        "tender_id": tid,
        "frozen_on": iso(closes),
        "participants": [{"organisation_code": c, "lot_ids": ls} for c, ls in enrolled.items()],
    }
    if not story.add(
        ENROLMENT, "enrolment_window", tid, [("ParticipantListFrozen", frozen, closes)], coordinator
    ):
        return
    published = closes + days(rng.randint(7, 30))
    notice = {
        "tender_id": tid,
        "published_on": iso(published),
        "notice_reference": f"TN-{tid}",
        "participant_list_frozen_on": iso(closes),
        "participant_codes": sorted(enrolled),
    }
    if not story.add(
        REGISTRY, "tender", tid, [("TenderPublished", notice, published)], coordinator
    ):
        return
    for lot_id in lot_ids:
        tell_lot(story, plan, bodies, lot_id, published, enrolled)


def tell_lot(
    story: Story,
    plan: TenderPlan,
    bodies: Bodies,
    lot_id: str,
    published: date,
    enrolled: dict[str, list[str]],
) -> None:
    rng = story.rng
    tid = plan.tender_id
    coordinator = plan.authority.code
    suppliers = rng.sample(bodies.suppliers, rng.randint(2, 4) if plan.framework else 1)
    supplier_ids = [s.code for s in suppliers]
    decided = published + days(rng.randint(45, 120))
    revised = rng.random() < 0.1  # revised later (OT2010 Vast: KPN, then Tele2)
    first = [rng.choice(bodies.suppliers).code] if revised else supplier_ids
    award = _provisional(tid, lot_id, first, decided)
    if not story.add(
        REGISTRY, "tender", tid, [("ProvisionalAwardDecided", award, decided)], coordinator
    ):
        return
    if revised:
        decided += days(rng.randint(60, 400))
        revision = {
            **_provisional(tid, lot_id, supplier_ids, decided),
            "previous_supplier_ids": first,
            "reason": "Reconsidered after objections to the evaluation",
        }
        if not story.add(
            REGISTRY, "tender", tid, [("ProvisionalAwardRevised", revision, decided)], coordinator
        ):
            return
    definitive_on = decided + days(21 + rng.randint(1, 20))
    definitive = {
        "tender_id": tid,
        "lot_id": lot_id,
        "supplier_ids": supplier_ids,
        "awarded_on": iso(definitive_on),
    }
    if not story.add(
        REGISTRY, "tender", tid, [("AwardMadeDefinitive", definitive, definitive_on)], coordinator
    ):
        return
    tell_contract(story, plan, bodies, lot_id, suppliers, definitive_on, enrolled)


def _provisional(tid: str, lot_id: str, supplier_ids: list[str], sent: date) -> dict[str, object]:
    return {
        "tender_id": tid,
        "lot_id": lot_id,
        "supplier_ids": supplier_ids,
        "decision_sent_on": iso(sent),
        # At least 20 calendar days from the day after the decision was sent (Aw 2012 art. 2.127).
        "standstill_ends_on": iso(sent + days(21)),
    }
