"""One OCDS release per relevant event of a contracting process (pure).

A process is a tender (ocid from its tender id) with its enrolment window and the
contracts signed under it; a call-off is its own process linked to its framework by
`relatedProcesses` ("framework"); successor rounds link by "prior" / "replacementProcess".
Each event is decoded to its typed event and folded with its owner's fold; a release shows
the folded state (`sections`), so OCDS says what GraphQL and the audit replay say. Release
dates are valid time (`occurred_at`): releases merge in the order facts became true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from audit.bitemporal import valid_order
from audit.folding import Reader
from audit.ocds import codes
from audit.ocds.sections import Process, Release, amount, award, contract, instant, on_day, tender
from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.enrolment.state import CallOffState
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import typed_event
from contracts_schema.registry import events as rg

OCID_PREFIX = "ocds-gtnl01"
__all__ = ["IGNORED", "MAPPERS", "Release", "call_off_release", "instant", "ocid",
           "process_releases"]  # fmt: skip


Mapper = Callable[[Process, EventEnvelope, Any], "tuple[str, Release] | None"]


def ocid(process_id: str) -> str:
    return f"{OCID_PREFIX}-{process_id}"


def _clean(value: Any) -> Any:
    """Drop absent values: OCDS reads a null in a release as 'remove this field'."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _update_tag(p: Process) -> str:
    return "tenderUpdate" if p.tender.published_on else "planningUpdate"


def _link(relationship: str, other: str) -> Release:
    related = {"id": f"{relationship}-{other}", "relationship": [relationship], "scheme": "ocid",
               "identifier": ocid(other)}  # fmt: skip
    return {"relatedProcesses": [related]}


def _planned(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
    t = p.tender
    roles = ("procuringEntity",) if t.framework else ("procuringEntity", "buyer")
    body = tender(
        p,
        title=t.title,
        procurementMethod=codes.METHOD[t.procedure] if t.procedure else None,
        procurementMethodDetails=t.procedure,
        procuringEntity=p.ref(t.contracting_authority),
        techniques={"hasFrameworkAgreement": t.framework},
    )
    release: Release = {"parties": [p.party(t.contracting_authority, *roles)], "tender": body}
    if not t.framework:
        release["buyer"] = p.ref(t.contracting_authority)
    return "planning", release


def _published(p: Process, e: EventEnvelope, x: rg.TenderPublished) -> tuple[str, Release]:
    notice = {"id": x.notice_reference, "documentType": "tenderNotice"}
    body = tender(p, tenderPeriod={"startDate": on_day(x.published_on)}, documents=[notice])
    return "tender", {"tender": body}


def _tender_changed(tag: str | None) -> Mapper:
    def mapper(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
        return tag or _update_tag(p), {"tender": tender(p)}

    return mapper


def _corrected(p: Process, e: EventEnvelope, x: rg.TenderCorrected) -> tuple[str, Release]:
    amendment = {"id": e.event_id, "date": instant(e.occurred_at), "description": x.summary}
    return "tenderAmendment", {"tender": tender(p, amendments=[amendment])}


def _successor(p: Process, e: EventEnvelope, x: rg.SuccessorTenderLinked) -> tuple[str, Release]:
    return _update_tag(p), _link("replacementProcess", x.successor_tender_id)


def _window_opened(
    p: Process, e: EventEnvelope, x: en.EnrolmentWindowOpened
) -> tuple[str, Release] | None:
    if not x.previous_round_tender_id:
        return None
    return _update_tag(p), _link("prior", x.previous_round_tender_id)


def _frozen(p: Process, e: EventEnvelope, x: en.ParticipantListFrozen) -> tuple[str, Release]:
    # Framework guidance: every body that may call off is a party with the role buyer.
    return _update_tag(p), {"parties": [p.party(code, "buyer") for code in p.window.enrolled]}


def _awarded(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
    one = p.tender.lot(x.lot_id)
    assert one is not None  # the fold refuses an event for a lot it does not have
    awards: list[dict[str, Any]] = []
    previous = p.awards.get(x.lot_id)
    tag = "awardUpdate"
    if isinstance(x, rg.ProvisionalAwardDecided | rg.ProvisionalAwardRevised):
        # A new decision: the earlier award is cancelled, a new one is pending.
        if previous:
            awards.append({"id": previous, "status": codes.AWARD_CANCELLED})
        else:
            tag = "award"
        n = p.revisions[x.lot_id] = p.revisions.get(x.lot_id, 0) + 1
        p.awards[x.lot_id] = f"{x.lot_id}-award-{n}"
    award_id = p.awards.setdefault(x.lot_id, f"{x.lot_id}-award-1")
    awards.append(award(p, one, award_id))
    parties = [p.party(s, "tenderer", "supplier") for s in one.supplier_ids]
    return tag, {"parties": parties, "awards": awards, "tender": tender(p)}


def _withdrawn(
    p: Process, e: EventEnvelope, x: rg.ProvisionalAwardWithdrawn
) -> tuple[str, Release]:
    award_id = p.awards.get(x.lot_id, f"{x.lot_id}-award-1")
    cancelled = {"id": award_id, "status": codes.AWARD_CANCELLED, "description": x.reason}
    return "awardCancellation", {"awards": [cancelled], "tender": tender(p)}


def _signed(p: Process, e: EventEnvelope, x: rg.ContractSigned) -> tuple[str, Release]:
    c = p.contracts[x.contract_id]
    for s in c.suppliers:
        p.names.setdefault(s.supplier_id, s.name)
    p.contract_awards[c.contract_id] = next(
        (p.awards[lot] for lot in c.lot_ids if lot in p.awards), f"{c.contract_id}-award"
    )
    parties = [p.party(s.supplier_id, "supplier") for s in c.suppliers]
    if c.paying_agent:
        parties.append(p.party(c.paying_agent, "payer"))
    return "contract", {"parties": parties, "contracts": [contract(p, c)]}


def _amendment(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
    c = p.contracts[x.contract_id]
    if isinstance(x, rg.ContractAmended):
        description = x.summary
    elif isinstance(x, rg.ContractExtended):
        description = f"Extended to {x.new_end_date}."
    else:
        moved = f"from {x.from_authority} to {x.to_authority} on {x.transferred_on}"
        description = f"Transferred {moved}."
    amendment = {"id": e.event_id, "date": instant(e.occurred_at), "description": description}
    release: Release = {"contracts": [contract(p, c, amendments=[amendment])]}
    if isinstance(x, rg.ContractTransferred):
        release["parties"] = [p.party(c.contracting_authority, "buyer")]
        if c.paying_agent:
            release["parties"].append(p.party(c.paying_agent, "payer"))
        release["buyer"] = p.ref(c.contracting_authority)
    return "contractAmendment", release


def _ended(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
    return "contractTermination", {"contracts": [contract(p, p.contracts[x.contract_id])]}


MAPPERS: dict[type[DomainEvent], Mapper] = {
    rg.TenderPlanned: _planned,
    rg.TenderPublished: _published,
    rg.TenderCorrected: _corrected,
    rg.TenderPaused: _tender_changed(None),
    rg.TenderResumed: _tender_changed(None),
    rg.LotCancelled: _tender_changed("tenderUpdate"),
    rg.TenderCancelled: _tender_changed("tenderCancellation"),
    rg.SuccessorTenderLinked: _successor,
    rg.ProvisionalAwardDecided: _awarded,
    rg.ProvisionalAwardRevised: _awarded,
    rg.AwardMadeDefinitive: _awarded,
    rg.ProvisionalAwardWithdrawn: _withdrawn,
    rg.ContractSigned: _signed,
    rg.ContractAmended: _amendment,
    rg.ContractExtended: _amendment,
    rg.ContractTransferred: _amendment,
    rg.ContractTerminated: _ended,
    rg.ContractExpired: _ended,
    en.EnrolmentWindowOpened: _window_opened,
    en.ParticipantListFrozen: _frozen,
}
# Folded (the state the releases show includes them) but no release of their own: OCDS
# core has no place for bids, review proceedings, clarifications, consultations or
# prior notices without extensions, and enrolments count only once the list is frozen.
IGNORED: frozenset[type[DomainEvent]] = frozenset(
    {
        rg.PriorInformationNoticePublished,
        rg.MarketConsultationHeld,
        rg.TenderClarified,
        rg.BidsRecorded,
        rg.ReviewProceedingsStarted,
        rg.ReviewProceedingsConcluded,
        rg.StandstillEnded,
        en.EnrolmentWindowExtended,
        en.ParticipantEnrolled,
        en.ParticipantWithdrawn,
        # Provenance of imported facts: the facts before it have their releases.
        rg.TenderReleaseImported,
        rg.ContractReleaseImported,
    }
)
READERS = {
    "tender": Reader("registry", "tender"),
    "enrolment_window": Reader("enrolment", "enrolment_window"),
    "contract": Reader("registry", "contract"),
}


def _fold(p: Process, e: EventEnvelope) -> DomainEvent | None:
    """Fold the event into the process's state; None when its owner's fold refuses it."""
    reader = READERS.get(e.aggregate_type)
    if reader is None:
        return None
    if e.aggregate_type == "tender":
        step = reader.step(p.tender, e)
        p.tender = step.state
    elif e.aggregate_type == "enrolment_window":
        step = reader.step(p.window, e)
        p.window = step.state
    else:
        current = p.contracts.get(e.aggregate_id) or reader.initial(e.aggregate_id)
        step = reader.step(current, e)
        p.contracts[e.aggregate_id] = step.state
    return step.event if step.refused is None else None


def _linked(process_id: str, e: EventEnvelope) -> Release | None:
    """Another process's event that names this one."""
    try:
        x = typed_event(e.event_type, e.payload)
    except ValueError:  # pydantic's ValidationError too: not a fact, no link
        return None
    if isinstance(x, en.EnrolmentWindowOpened) and x.previous_round_tender_id == process_id:
        return _link("replacementProcess", e.aggregate_id)
    if isinstance(x, rg.SuccessorTenderLinked) and x.successor_tender_id == process_id:
        return _link("prior", e.aggregate_id)
    return None


def process_releases(
    process_id: str,
    envelopes: Iterable[EventEnvelope],
    names: dict[str, str],
    links: Iterable[EventEnvelope] = (),
) -> list[Release]:
    """The releases of one tender's process, in valid-time order.

    `links` are other processes' events that name this one: a later round's window opened
    with this tender as its previous round, or a predecessor's `SuccessorTenderLinked`.
    """
    p = Process(process_id, dict(names))
    releases: list[Release] = []
    waiting: list[EventEnvelope] = []  # links dated before this tender was planned
    for e in sorted([*envelopes, *links], key=valid_order):
        mapped: tuple[str, Release] | None
        if e.aggregate_id != process_id and e.aggregate_type != "contract":
            if not p.tender.exists:
                waiting.append(e)  # no process to relate yet: it starts with its planning
                continue
            linked = _linked(process_id, e)
            mapped = (_update_tag(p), linked) if linked else None
        else:
            x = _fold(p, e)
            mapper = MAPPERS.get(type(x)) if x is not None else None
            mapped = mapper(p, e, x) if mapper else None
        if mapped is not None:
            tag, body = mapped
            releases.append(_envelope(ocid(process_id), e, [tag], body))
        if waiting and p.tender.exists:
            for link in waiting:  # related from the day the process exists
                linked = _linked(process_id, link)
                if linked:
                    dated = link.model_copy(update={"occurred_at": e.occurred_at})
                    releases.append(_envelope(ocid(process_id), dated, [_update_tag(p)], linked))
            waiting.clear()
    return releases


def _envelope(the_ocid: str, e: EventEnvelope, tags: list[str], body: Release) -> Release:
    release = {"ocid": the_ocid, "id": e.event_id, "date": instant(e.occurred_at), "tag": tags,
               "initiationType": "tender", **body}  # fmt: skip
    return dict(_clean(release))


def call_off_release(envelopes: Sequence[EventEnvelope], names: dict[str, str]) -> Release | None:
    """A call-off as its own process, linked to the framework's process, from its fold."""
    if not envelopes:
        return None
    reader = Reader("enrolment", "call_off")
    state: CallOffState = reader.initial(envelopes[0].aggregate_id)
    awarded: EventEnvelope | None = None
    for e in sorted(envelopes, key=valid_order):
        step = reader.step(state, e)
        state = step.state
        if step.refused is None and isinstance(step.event, en.CallOffAwarded):
            awarded = e
    if awarded is None or state.supplier_id is None or state.participant_code is None:
        return None
    p = Process(state.call_off_id, dict(names))
    award_id = f"{state.call_off_id}-award"
    method = codes.CALL_OFF_METHOD[state.procedure] if state.procedure else None
    parties = [p.party(state.participant_code, "buyer"), p.party(state.supplier_id, "supplier")]
    body: Release = {
        "parties": parties,
        "buyer": p.ref(state.participant_code),
        "tender": {
            "id": state.call_off_id,
            "status": "complete",
            "procurementMethod": method,
            "procurementMethodDetails": state.procedure,
        },
        "awards": [{"id": award_id, "status": "active", "date": on_day(state.awarded_on),
                    "suppliers": [p.ref(state.supplier_id)], "relatedLots": [state.lot_id]}],
        "contracts": [{"id": state.call_off_id, "awardID": award_id, "status": "active",
                       "value": amount(state.value_eur),
                       "period": {"startDate": on_day(state.start_date),
                                  "endDate": on_day(state.end_date)}}],
        "relatedProcesses": [{"id": "framework", "relationship": ["framework"], "scheme": "ocid",
                              "identifier": ocid(state.tender_id or "")}],
    }  # fmt: skip
    return _envelope(ocid(state.call_off_id), awarded, ["award", "contract"], body)
