"""A signed contract's life: call-offs, amendments, extensions, transfers, corrections, the end."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bench.history.model import ENROLMENT, REGISTRY, at
from bench.history.organisations import Bodies, Organisation
from bench.history.story import TODAY, Story, days, iso

if TYPE_CHECKING:
    from bench.history.tenders import TenderPlan

# valid day, context, aggregate type, aggregate id, (event type, payload), actor
Pending = tuple[date, str, str, str, tuple[str, dict[str, Any]], str]


def tell_contract(
    story: Story,
    plan: TenderPlan,
    bodies: Bodies,
    lot_id: str,
    suppliers: list[Organisation],
    awarded_on: date,
    enrolled: dict[str, list[str]],
) -> None:
    rng = story.rng
    coordinator = plan.authority.code
    cid = f"C-{lot_id}"
    signed_on = awarded_on + days(rng.randint(3, 40))
    start = signed_on + days(rng.randint(1, 60))
    years = rng.choice((2, 3, 4, 4, 4))
    end = start + days(365 * years)
    max_extent = start + days(365 * rng.choice((years, years + 2, 8)))
    signed: dict[str, Any] = {
        "contract_id": cid,
        "kind": "framework" if plan.framework else "contract",
        "tender_id": plan.tender_id,
        "lot_ids": [lot_id],
        "contracting_authority": coordinator,
        "paying_agent": None,
        "suppliers": [
            {"supplier_id": s.code, "name": s.name, "lot_ids": [lot_id]} for s in suppliers
        ],
        "signed_on": iso(signed_on),
        "start_date": iso(start),
        "end_date": iso(end),
        "max_extent_date": iso(max_extent),
        "value_eur": rng.randrange(50_000, 50_000_000, 1000),
    }
    if (max_extent - start).days > 4 * 365:  # art. 33(1): longer than 4 years needs a reason
        signed["duration_rationale"] = "Investments in migration need a longer term to pay back"
    if not story.add(
        REGISTRY, "contract", cid, [("ContractSigned", signed, signed_on)], coordinator
    ):
        return
    signed_recorded = story.last_recorded
    # What follows the signature is told in valid-time order, call-offs interleaved.
    later: list[Pending] = []
    if plan.framework:
        later += _call_offs(story, plan, cid, lot_id, suppliers, start, end, enrolled)
    if rng.random() < 0.25:
        amended_on = start + days(rng.randint(30, 300))
        amendment = {
            "contract_id": cid,
            "summary": "Price indexation clause updated",
            "amended_on": iso(amended_on),
        }
        later.append(
            (amended_on, REGISTRY, "contract", cid, ("ContractAmended", amendment), coordinator)
        )
    if rng.random() < 0.4 and max_extent > end:
        extended_on = end - days(rng.randint(30, 180))
        previous_end = end
        end = min(end + days(365 * rng.randint(1, 2)), max_extent)
        extension = {
            "contract_id": cid,
            "new_end_date": iso(end),
            "previous_end_date": iso(previous_end),
            "extended_on": iso(extended_on),
        }
        later.append(
            (extended_on, REGISTRY, "contract", cid, ("ContractExtended", extension), coordinator)
        )
    if rng.random() < 0.05:  # LNVT took over the VNG's 0800-2000 contracts in 2018
        to = rng.choice(
            [c for c in bodies.coordinators if c.code != coordinator] or [plan.authority]
        )
        moved_on = start + days(rng.randint(100, 700))
        transfer = {
            "contract_id": cid,
            "from_authority": coordinator,
            "to_authority": to.code,
            "paying_agent": "GM0518",
            "transferred_on": iso(moved_on),
        }
        if moved_on < end:
            later.append(
                (
                    moved_on,
                    REGISTRY,
                    "contract",
                    cid,
                    ("ContractTransferred", transfer),
                    coordinator,
                )
            )
    if rng.random() < 0.1 and signed_recorded is not None:
        # A backdated correction: the true end date learned years after the fact.
        corrected_on = start + days(rng.randint(1, 90))
        end = end - days(rng.randint(30, 200))
        correction = {
            "contract_id": cid,
            "summary": "Correction: end date as in the signed agreement",
            "amended_on": iso(corrected_on),
            "new_end_date": iso(end),
        }
        late = max(signed_recorded, at(end)) + timedelta(days=rng.randint(30, 900))
        story.add(
            REGISTRY,
            "contract",
            cid,
            [("ContractAmended", correction, corrected_on)],
            "auditor",
            recorded_at=late,
        )
    if rng.random() < 0.05 and start + days(200) < end:
        stopped = start + days(rng.randint(100, (end - start).days - 50))
        termination = {
            "contract_id": cid,
            "terminated_on": iso(stopped),
            "reason": "Terminated by mutual agreement",
        }
        later = [p for p in later if p[0] < stopped or p[1] == ENROLMENT]
        later.append(
            (stopped, REGISTRY, "contract", cid, ("ContractTerminated", termination), coordinator)
        )
    elif end < TODAY:
        expiry = {"contract_id": cid, "expired_on": iso(end)}
        later.append((end, REGISTRY, "contract", cid, ("ContractExpired", expiry), "system"))
    for day, context, aggregate_type, aggregate_id, (kind, payload), actor in sorted(
        later, key=lambda p: p[0]
    ):
        story.add(context, aggregate_type, aggregate_id, [(kind, payload, day)], actor)


def _call_offs(
    story: Story,
    plan: TenderPlan,
    cid: str,
    lot_id: str,
    suppliers: list[Organisation],
    start: date,
    end: date,
    enrolled: dict[str, list[str]],
) -> list[Pending]:
    rng = story.rng
    pending: list[Pending] = []
    takers = sorted(
        (
            (code, rng.randrange(max((end - start).days // 2, 1)))
            for code, lots in enrolled.items()
            if lot_id in lots and rng.random() < 0.85
        ),
        key=lambda p: p[1],
    )
    for code, offset in takers:
        awarded = start + days(offset)
        call_off_id = f"{cid}-{code}"
        mini = len(suppliers) > 1 and rng.random() < 0.4
        call_off = {
            "call_off_id": call_off_id,
            "framework_contract_id": cid,
            "tender_id": plan.tender_id,
            "lot_id": lot_id,
            "participant_code": code,
            "supplier_id": rng.choice(suppliers).code,
            "awarded_on": iso(awarded),
            "procedure": "mini_competition" if mini else "direct",
            "start_date": iso(awarded + days(30)),
            # A call-off may run beyond the framework's own end.
            "end_date": iso(awarded + days(365 * rng.randint(2, 4))),
            "value_eur": rng.randrange(5_000, 2_000_000, 100),
        }
        pending.append(
            (awarded, ENROLMENT, "call_off", call_off_id, ("CallOffAwarded", call_off), code)
        )
    return pending
