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
from decimal import Decimal
from typing import Any

from audit.bitemporal import valid_order
from audit.folding import Reader
from audit.ocds import codes
from audit.ocds.ocid_prefix import ocid_prefix
from audit.ocds.sections import (
    CLEARED,
    Process,
    Release,
    amount,
    award,
    bid_statistics,
    contract,
    instant,
    on_day,
    period,
    tender,
)
from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.enrolment.state import CallOffState
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import typed_event
from contracts_schema.registry import events as rg

__all__ = ["IGNORED", "MAPPERS", "Release", "call_off_release", "instant", "ocid",
           "process_releases"]  # fmt: skip


Mapper = Callable[[Process, EventEnvelope, Any], "tuple[str, Release] | None"]


def ocid(process_id: str) -> str:
    """The process's ocid under this deployment's prefix (GT_OCDS_OCID_PREFIX)."""
    return f"{ocid_prefix()}-{process_id}"


PROVENANCE = (rg.TenderReleaseImported.event_type, rg.ContractReleaseImported.event_type)


def source_ocid(envelopes: Iterable[EventEnvelope]) -> str | None:
    """The ocid an imported process was published under: re-exported, it stays the same
    process (an ocid is global; a second one would make it two)."""
    for e in envelopes:
        if e.event_type in (
            rg.TenderReleaseImported.event_type,
            rg.ContractReleaseImported.event_type,
        ):
            x = typed_event(e.event_type, e.payload, e.schema_version)
            if isinstance(x, rg.TenderReleaseImported | rg.ContractReleaseImported):
                return x.ocid
    return None


def _clean(value: Any) -> Any:
    """Drop absent values: OCDS reads a null in a release as 'remove this field'; a field
    that held a value and no longer does is sent as CLEARED, which becomes that null."""
    if value is CLEARED:
        return None
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in cleaned.items() if v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def supplier_names(envelopes: Iterable[EventEnvelope]) -> dict[str, str]:
    """Suppliers' names from the contracts signed with them: a supplier is named by its name
    in every release, also those before its contract was signed. And a contracting authority
    published by name only (an imported tender's XX-NAMED-... code) by that name, which its
    TenderPlanned carries (correct13): no organisation of the registry names it."""
    names: dict[str, str] = {}
    for e in envelopes:
        if e.event_type not in _NAMING:
            continue
        try:
            x = typed_event(e.event_type, e.payload, e.schema_version)
        except ValueError:  # pydantic's ValidationError too: the fold refuses it later
            continue
        if isinstance(x, rg.ContractSigned):
            for s in x.suppliers:
                names.setdefault(s.supplier_id, s.name)
        elif isinstance(x, rg.TenderPlanned) and x.contracting_authority_name:
            names.setdefault(x.contracting_authority, x.contracting_authority_name)
    return names


_NAMING = frozenset({rg.ContractSigned.event_type, rg.TenderPlanned.event_type})


def _update_tag(p: Process) -> str:
    return "tenderUpdate" if p.tender.published_on else "planningUpdate"


def _link(relationship: str, other: str) -> Release:
    related = {"id": f"{relationship}-{other}", "relationship": [relationship], "scheme": "ocid",
               "identifier": ocid(other)}  # fmt: skip
    return {"relatedProcesses": [related]}


def _planned(p: Process, e: EventEnvelope, x: rg.TenderPlanned) -> tuple[str, Release]:
    t = p.tender
    roles = ("procuringEntity",) if t.framework else ("procuringEntity", "buyer")
    body = tender(
        p,
        procuringEntity=p.ref(t.contracting_authority),
        techniques={"hasFrameworkAgreement": t.framework},
    )
    release: Release = {"parties": [p.party(t.contracting_authority, *roles)], "tender": body}
    if not t.framework:
        release["buyer"] = p.ref(t.contracting_authority)
    return "planning", release


def _published(p: Process, e: EventEnvelope, x: rg.TenderPublished) -> tuple[str, Release]:
    published = on_day(x.published_on) if x.published_on_stated else None
    notice: dict[str, Any] = {"id": x.notice_reference, "documentType": "tenderNotice",
                              "datePublished": published}  # fmt: skip
    return "tender", {"tender": tender(p, documents=[notice])}


def _restated(p: Process, e: EventEnvelope, x: rg.TenderRestated) -> tuple[str, Release]:
    """An imported tender restated (import20): the tender as the fold has it now, and what
    the source no longer states sent as null, so that it leaves the compiled release too."""
    body = tender(p, techniques={"hasFrameworkAgreement": p.tender.framework})
    if x.procedure is None and x.procedure_stated is False:
        body["procurementMethod"] = body["procurementMethodDetails"] = CLEARED
    if x.tender_period_start_cleared:
        body["tenderPeriod"] = {**(body["tenderPeriod"] or {}), "startDate": CLEARED}
    if x.title_stated is False:  # import30: titles no longer stated
        body["title"] = CLEARED
    untitled = set(x.untitled_lot_ids)
    if untitled:
        body["lots"] = [{**one, "title": CLEARED} if one["id"] in untitled else one
                        for one in body["lots"]]  # fmt: skip
    return _update_tag(p), {"tender": body}


def _bids(p: Process, e: EventEnvelope, x: rg.BidsRecorded) -> tuple[str, Release]:
    release: Release = {"tender": tender(p), "bids": bid_statistics(p.tender)}
    if x.bidder_ids:
        release["parties"] = [p.party(b, "tenderer") for b in x.bidder_ids]
    return _update_tag(p), release


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
    if not p.tender.exists:
        return None  # the planning release shows the window as the tender period
    release: Release = {"tender": tender(p)}
    if x.previous_round_tender_id:
        release |= _link("prior", x.previous_round_tender_id)
    return _update_tag(p), release


def _window_extended(
    p: Process, e: EventEnvelope, x: en.EnrolmentWindowExtended
) -> tuple[str, Release] | None:
    return (_update_tag(p), {"tender": tender(p)}) if p.tender.exists else None


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
    parties += _no_longer_suppliers(p, one.previous_supplier_ids, one.supplier_ids)
    return tag, {"parties": parties, "awards": awards, "tender": tender(p)}


def _no_longer_suppliers(
    p: Process, before: Iterable[str], now: Iterable[str]
) -> list[dict[str, Any]]:
    """Suppliers a revision or withdrawal took out: they stay tenderers, no longer suppliers
    (unless another lot's award keeps them one). `roles` merges whole, so send them shrunk."""
    keeping = {s for one in p.tender.lots for s in one.supplier_ids} | set(now)
    return [p.drop_role(s, "supplier") for s in before if s not in keeping]


def _withdrawn(
    p: Process, e: EventEnvelope, x: rg.ProvisionalAwardWithdrawn
) -> tuple[str, Release]:
    award_id = p.awards.get(x.lot_id, f"{x.lot_id}-award-1")
    cancelled = {"id": award_id, "status": codes.AWARD_CANCELLED, "description": x.reason}
    release: Release = {"awards": [cancelled], "tender": tender(p)}
    dropped = _no_longer_suppliers(p, x.supplier_ids, ())
    if dropped:
        release["parties"] = dropped
    return "awardCancellation", release


def distinct(parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per party id (OCDS: ids are unique in an array), the last one made: a party
    in two roles (a buyer that pays) carries every role by then."""
    last = {party["id"]: party for party in parties}
    return list(last.values())


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
    award_id = p.contract_awards[c.contract_id]
    if c.value_eur is not None:
        p.award_values[award_id] = p.award_values.get(award_id, Decimal(0)) + c.value_eur
    awarded: dict[str, Any] = {"id": award_id, "value": amount(p.award_values.get(award_id))}
    if not any(award_id == a for a in p.awards.values()):
        # No award recorded in the registry (e.g. a contract without a tender): the
        # signed contract shows one, so that its awardID names an award.
        awarded |= {"status": "active", "date": on_day(c.signed_on),
                    "suppliers": [p.ref(s.supplier_id) for s in c.suppliers]}  # fmt: skip
    techniques = None
    if c.kind == "framework":
        agreement = {"periodRationale": c.duration_rationale}
        techniques = {"hasFrameworkAgreement": True, "frameworkAgreement": agreement}
    release: Release = {"awards": [awarded], "contracts": [contract(p, c)]}
    if p.tender.exists:
        release["tender"] = tender(p, techniques=techniques)
    else:  # a contract recorded without its tender: it names its own buyer
        parties.append(p.party(c.contracting_authority, "buyer"))
        release["buyer"] = p.ref(c.contracting_authority)
    release["parties"] = distinct(parties)
    return "contract", release


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
        parties = [p.party(c.contracting_authority, "buyer")]
        if c.paying_agent:
            parties.append(p.party(c.paying_agent, "payer"))
        release["parties"] = distinct(parties)
        release["buyer"] = p.ref(c.contracting_authority)
    return "contractAmendment", release


def _contract_restated(p: Process, e: EventEnvelope, x: rg.ContractRestated) -> tuple[str, Release]:
    """An imported contract restated (import25): the contract as the fold has it now, and
    what the source no longer states sent as null, so that it leaves the compiled release."""
    body = contract(p, p.contracts[x.contract_id])
    if x.max_extent_cleared:
        body["period"] = {**(body["period"] or {}), "maxExtentDate": CLEARED}
    if x.value_cleared:
        body["value"] = {"amount": CLEARED, "currency": CLEARED}
    if x.signed_on_cleared:  # import30
        body["dateSigned"] = CLEARED
    if x.start_cleared:
        body["period"] = {**(body["period"] or {}), "startDate": CLEARED}
    if x.end_cleared:  # import33: as the source had it (a null, or 9999-12-31 left out)
        body["period"] = {**(body["period"] or {}), "endDate": CLEARED}
    return "contractUpdate", {"contracts": [body]}


def _ended(p: Process, e: EventEnvelope, x: Any) -> tuple[str, Release]:
    return "contractTermination", {"contracts": [contract(p, p.contracts[x.contract_id])]}


MAPPERS: dict[type[DomainEvent], Mapper] = {
    rg.TenderPlanned: _planned,
    rg.TenderPlanRevised: _tender_changed(None),  # the plan's tender period (import19)
    rg.TenderPublished: _published,
    rg.TenderRestated: _restated,  # an imported tender restated by a later release (import20)
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
    rg.BidsRecorded: _bids,
    rg.ContractSigned: _signed,
    rg.ContractAmended: _amendment,
    rg.ContractExtended: _amendment,
    rg.ContractTransferred: _amendment,
    rg.ContractRestated: _contract_restated,  # an imported contract restated (import25)
    rg.ContractTerminated: _ended,
    rg.ContractExpired: _ended,
    en.EnrolmentWindowOpened: _window_opened,
    en.EnrolmentWindowExtended: _window_extended,
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
        rg.ReviewProceedingsStarted,
        rg.ReviewProceedingsConcluded,
        rg.StandstillEnded,
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
        x = typed_event(e.event_type, e.payload, e.schema_version)
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
    envelopes = list(envelopes)
    the_ocid = source_ocid(envelopes) or ocid(process_id)
    p = Process(process_id, {**supplier_names(envelopes), **names})
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
            releases.append(_envelope(the_ocid, e, [tag], body))
        if waiting and p.tender.exists:
            for link in waiting:  # related from the day the process exists
                linked = _linked(process_id, link)
                if linked:
                    dated = link.model_copy(update={"occurred_at": e.occurred_at})
                    releases.append(_envelope(the_ocid, dated, [_update_tag(p)], linked))
            waiting.clear()
    return releases


def _envelope(the_ocid: str, e: EventEnvelope, tags: list[str], body: Release) -> Release:
    release = {"ocid": the_ocid, "id": e.event_id, "date": instant(e.occurred_at), "tag": tags,
               "initiationType": "tender", **body}  # fmt: skip
    return dict(_clean(release))


def call_off_releases(envelopes: Sequence[EventEnvelope], names: dict[str, str]) -> list[Release]:
    """A call-off as its own process, linked to the framework's process, from its fold: a
    mini-competition's invitation is its own tender (the framework guidance's second stage),
    then the award and contract."""
    if not envelopes:
        return []
    reader = Reader("enrolment", "call_off")
    state: CallOffState = reader.initial(envelopes[0].aggregate_id)
    p = Process(envelopes[0].aggregate_id, dict(names))
    releases: list[Release] = []
    for e in sorted(envelopes, key=valid_order):
        step = reader.step(state, e)
        state = step.state
        if step.refused is not None:
            continue
        if isinstance(step.event, en.MiniCompetitionStarted):
            releases.append(_call_off_envelope(e, ["tender"], _competition(p, state)))
        elif isinstance(step.event, en.CallOffAwarded):
            releases.append(_call_off_envelope(e, ["award", "contract"], _call_off(p, state)))
    return releases


def call_off_release(envelopes: Sequence[EventEnvelope], names: dict[str, str]) -> Release | None:
    """The award release of a call-off (its last), or None when it was never awarded."""
    releases = call_off_releases(envelopes, names)
    return releases[-1] if releases and "awards" in releases[-1] else None


def _call_off_envelope(e: EventEnvelope, tags: list[str], body: Release) -> Release:
    return _envelope(ocid(e.aggregate_id), e, tags, body)


def _framework_link(state: CallOffState) -> Release:
    link = {"id": "framework", "relationship": ["framework"], "scheme": "ocid",
            "identifier": ocid(state.tender_id or "")}  # fmt: skip
    return {"relatedProcesses": [link]}


def _call_off_tender(state: CallOffState, status: str) -> dict[str, Any]:
    method = codes.CALL_OFF_METHOD[state.procedure] if state.procedure else None
    if method is None and state.competition_started_on is not None:
        method = codes.CALL_OFF_METHOD["mini_competition"]
    return {
        "id": state.call_off_id,
        "status": status,
        "procurementMethod": method,
        "procurementMethodDetails": state.procedure,
        "tenderPeriod": {"startDate": on_day(state.competition_started_on)},
        "numberOfTenderers": None,
    }


def _competition(p: Process, state: CallOffState) -> Release:
    buyer = state.participant_code or ""
    invited = state.invited_supplier_ids
    parties = [p.party(buyer, "buyer"), *(p.party(s, "tenderer") for s in invited)]
    body = _call_off_tender(state, "active")
    body["tenderers"] = [p.ref(s) for s in state.invited_supplier_ids]
    return {"parties": parties, "buyer": p.ref(buyer), "tender": body, **_framework_link(state)}


def _call_off(p: Process, state: CallOffState) -> Release:
    assert state.supplier_id is not None  # awarded
    assert state.participant_code is not None
    award_id = f"{state.call_off_id}-award"
    parties = [p.party(state.participant_code, "buyer"), p.party(state.supplier_id, "supplier")]
    return {
        "parties": parties,
        "buyer": p.ref(state.participant_code),
        "tender": _call_off_tender(state, "complete"),
        "awards": [{"id": award_id, "status": "active", "date": on_day(state.awarded_on),
                    "value": amount(state.value_eur),
                    "suppliers": [p.ref(state.supplier_id)], "relatedLots": [state.lot_id]}],
        "contracts": [{"id": state.call_off_id, "awardID": award_id, "status": "active",
                       "dateSigned": on_day(state.awarded_on),  # concluded when awarded
                       "value": amount(state.value_eur),
                       "period": period(state.start_date, state.end_date)}],
        **_framework_link(state),
    }  # fmt: skip
