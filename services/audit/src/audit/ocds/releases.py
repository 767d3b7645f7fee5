"""One OCDS release per relevant event of a contracting process (pure).

A process is a tender (ocid from its tender id) with its enrolment window and the
contracts signed under it; a call-off is its own process linked to its framework by
`relatedProcesses` ("framework"); successor rounds link by "prior" / "replacementProcess".
Release dates are valid time (`occurred_at`): releases merge in the order facts became true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from audit.bitemporal import LOCAL_ZONE, valid_order
from contracts_schema.envelope import EventEnvelope

OCID_PREFIX = "ocds-gtnl01"
Release = dict[str, Any]


def ocid(process_id: str) -> str:
    return f"{OCID_PREFIX}-{process_id}"


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_day(value: str | None) -> str | None:
    if value is None:
        return None
    start = datetime.combine(date.fromisoformat(value[:10]), time(0), tzinfo=LOCAL_ZONE)
    return start.isoformat()


def _clean(value: Any) -> Any:
    """Drop absent values: OCDS reads a null in a release as 'remove this field'."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@dataclass
class Process:
    """What the mapping remembers while walking a process's events in valid-time order."""

    process_id: str
    names: dict[str, str]
    framework: bool = False
    published: bool = False
    awards: dict[str, str] = field(default_factory=dict)  # lot -> current award id
    revisions: dict[str, int] = field(default_factory=dict)
    contract_awards: dict[str, str] = field(default_factory=dict)  # contract -> award id
    roles: dict[str, list[str]] = field(default_factory=dict)

    def party(self, code: str, *roles: str) -> dict[str, Any]:
        # `roles` is replaced whole when releases merge: always send every role so far.
        known = self.roles.setdefault(code, [])
        known.extend(r for r in roles if r not in known)
        return {"id": code, "name": self.names.get(code, code), "roles": list(known)}

    def ref(self, code: str) -> dict[str, str]:
        return {"id": code, "name": self.names.get(code, code)}


def _planned(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    p.framework = bool(x.get("framework"))
    authority = x["contracting_authority"]
    roles = ("procuringEntity",) if p.framework else ("procuringEntity", "buyer")
    tender = {
        "id": x["tender_id"],
        "title": x.get("title"),
        "status": "planning",
        "procurementMethodDetails": x.get("procedure"),
        "procuringEntity": p.ref(authority),
        "techniques": {"hasFrameworkAgreement": p.framework},
        "lots": [{"id": lot["lot_id"], "title": lot.get("title")} for lot in x.get("lots", [])],
    }
    release: Release = {"parties": [p.party(authority, *roles)], "tender": tender}
    if not p.framework:
        release["buyer"] = p.ref(authority)
    return "planning", release


def _published(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    p.published = True
    x = e.payload
    notice = {"id": x.get("notice_reference"), "documentType": "tenderNotice"}
    period = {"startDate": on_day(x.get("published_on"))}
    tender = {
        "id": x["tender_id"],
        "status": "active",
        "tenderPeriod": period,
        "documents": [notice],
    }
    return "tender", {"tender": tender}


def _update_tag(p: Process) -> str:
    return "tenderUpdate" if p.published else "planningUpdate"


def _window_opened(p: Process, e: EventEnvelope) -> tuple[str, Release] | None:
    previous = e.payload.get("previous_round_tender_id")
    if not previous:
        return None
    return _update_tag(p), _link("prior", previous)


def _frozen(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    # Framework guidance: every body that may call off is a party with the role buyer.
    parties = [p.party(x["organisation_code"], "buyer") for x in e.payload.get("participants", [])]
    return _update_tag(p), {"parties": parties}


def _provisional(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    lot = x["lot_id"]
    n = p.revisions[lot] = p.revisions.get(lot, 0) + 1
    awards: list[dict[str, Any]] = []
    previous = p.awards.get(lot)
    if previous:  # a revised decision: the earlier award is withdrawn, a new one is pending
        awards.append({"id": previous, "status": "cancelled"})
    award_id = p.awards[lot] = f"{lot}-award-{n}"
    awards.append(
        {
            "id": award_id,
            "status": "pending",  # the standstill has not ended
            "date": on_day(x.get("decision_sent_on")),
            "suppliers": [p.ref(s) for s in x.get("supplier_ids", [])],
            "relatedLots": [lot],
            "description": f"Standstill period until {x.get('standstill_ends_on')}.",
        }
    )
    parties = [p.party(s, "tenderer", "supplier") for s in x.get("supplier_ids", [])]
    return ("awardUpdate" if previous else "award"), {"parties": parties, "awards": awards}


def _definitive(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    lot = x["lot_id"]
    award_id = p.awards.setdefault(lot, f"{lot}-award-1")
    award = {
        "id": award_id,
        "status": "active",
        "date": on_day(x.get("awarded_on")),
        "suppliers": [p.ref(s) for s in x.get("supplier_ids", [])],
        "relatedLots": [lot],
    }
    parties = [p.party(s, "tenderer", "supplier") for s in x.get("supplier_ids", [])]
    return "awardUpdate", {"parties": parties, "awards": [award]}


def _signed(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    for s in x.get("suppliers", []):
        p.names.setdefault(s["supplier_id"], s.get("name") or s["supplier_id"])
    lots = x.get("lot_ids") or []
    award_id = next((p.awards[lot] for lot in lots if lot in p.awards), f"{x['contract_id']}-award")
    p.contract_awards[x["contract_id"]] = award_id
    value = (
        {"amount": x["value_eur"], "currency": "EUR"} if x.get("value_eur") is not None else None
    )
    period = {
        "startDate": on_day(x.get("start_date")),
        "endDate": on_day(x.get("end_date")),
        "maxExtentDate": on_day(x.get("max_extent_date")),
    }
    contract = {
        "id": x["contract_id"],
        "awardID": award_id,
        "status": "active",
        "dateSigned": on_day(x.get("signed_on")),
        "period": period,
        "value": value,
        "title": x.get("kind"),
    }
    parties = [p.party(s["supplier_id"], "supplier") for s in x.get("suppliers", [])]
    if x.get("paying_agent"):
        parties.append(p.party(x["paying_agent"], "payer"))
    return "contract", {"parties": parties, "contracts": [contract]}


def _contract(p: Process, contract_id: str, **fields: Any) -> dict[str, Any]:
    award_id = p.contract_awards.get(contract_id, f"{contract_id}-award")
    return {"id": contract_id, "awardID": award_id, **fields}


def _amendment(p: Process, e: EventEnvelope, description: str, **changes: Any) -> Release:
    amendment = {"id": e.event_id, "date": instant(e.occurred_at), "description": description}
    contract = _contract(p, e.payload["contract_id"], **changes, amendments=[amendment])
    return {"contracts": [contract]}


def _extended(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    end = e.payload["new_end_date"]
    return "contractAmendment", _amendment(
        p, e, f"Extended to {end}.", period={"endDate": on_day(end)}
    )


def _amended(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    names = (
        ("start_date", "startDate"),
        ("end_date", "endDate"),
        ("max_extent_date", "maxExtentDate"),
    )
    period = {ours: on_day(x.get(field)) for field, ours in names}
    return "contractAmendment", _amendment(p, e, str(x.get("summary")), period=period)


def _transferred(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    moved = f"from {x['from_authority']} to {x['to_authority']} on {x.get('transferred_on')}"
    release = _amendment(p, e, f"Transferred {moved}.")
    release["parties"] = [p.party(x["to_authority"], "buyer")]
    if x.get("paying_agent"):
        release["parties"].append(p.party(x["paying_agent"], "payer"))
    release["buyer"] = p.ref(x["to_authority"])
    return "contractAmendment", release


def _ended(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    details = x.get("reason") if e.event_type == "ContractTerminated" else "expired"
    contract = _contract(p, x["contract_id"], status="terminated", statusDetails=details)
    return "contractTermination", {"contracts": [contract]}


def _withdrawn(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    award_id = p.awards.get(e.payload["lot_id"], f"{e.payload['lot_id']}-award-1")
    award = {"id": award_id, "status": "cancelled", "description": e.payload.get("reason")}
    return "awardCancellation", {"awards": [award]}


def _tender_cancelled(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    x = e.payload
    lots = [{"id": lot, "status": "cancelled"} for lot in x.get("lot_ids") or []]
    tender = {
        "id": p.process_id,
        "status": "cancelled",
        "statusDetails": x.get("reason"),
        "lots": lots,
    }
    return "tenderCancellation", {"tender": tender}


def _lot_cancelled(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    lot = {"id": e.payload["lot_id"], "status": "cancelled", "description": e.payload.get("reason")}
    return "tenderUpdate", {"tender": {"id": p.process_id, "lots": [lot]}}


def _corrected(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    amendment = {"id": e.event_id, "date": instant(e.occurred_at),
                 "description": e.payload.get("summary")}  # fmt: skip
    return "tenderAmendment", {"tender": {"id": p.process_id, "amendments": [amendment]}}


def _paused(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    details = "paused" if e.event_type == "TenderPaused" else "resumed"
    return _update_tag(p), {"tender": {"id": p.process_id, "statusDetails": details}}


def _link(relationship: str, other: str) -> Release:
    related = {"id": f"{relationship}-{other}", "relationship": [relationship], "scheme": "ocid",
               "identifier": ocid(other)}  # fmt: skip
    return {"relatedProcesses": [related]}


def _successor_linked(p: Process, e: EventEnvelope) -> tuple[str, Release]:
    return _update_tag(p), _link("replacementProcess", e.payload["successor_tender_id"])


Mapper = Callable[[Process, EventEnvelope], "tuple[str, Release] | None"]
MAPPERS: dict[str, Mapper] = {
    "TenderPlanned": _planned,
    "TenderPublished": _published,
    "EnrolmentWindowOpened": _window_opened,
    "ParticipantListFrozen": _frozen,
    "ProvisionalAwardDecided": _provisional,
    "AwardMadeDefinitive": _definitive,
    "ContractSigned": _signed,
    "ContractExtended": _extended,
    "ContractAmended": _amended,
    "ContractTransferred": _transferred,
    "ContractTerminated": _ended,
    "ContractExpired": _ended,
    "ProvisionalAwardRevised": _provisional,
    "ProvisionalAwardWithdrawn": _withdrawn,
    "TenderCancelled": _tender_cancelled,
    "LotCancelled": _lot_cancelled,
    "TenderCorrected": _corrected,
    "TenderPaused": _paused,
    "TenderResumed": _paused,
    "SuccessorTenderLinked": _successor_linked,
}


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
    process = Process(process_id, dict(names))
    releases: list[Release] = []
    for e in sorted([*envelopes, *links], key=valid_order):
        mapped: tuple[str, Release] | None
        if e.aggregate_id != process_id and e.event_type == "EnrolmentWindowOpened":
            mapped = (_update_tag(process), _link("replacementProcess", e.aggregate_id))
        elif e.aggregate_id != process_id and e.event_type == "SuccessorTenderLinked":
            mapped = (_update_tag(process), _link("prior", e.aggregate_id))
        else:
            mapper = MAPPERS.get(e.event_type)
            mapped = mapper(process, e) if mapper else None
        if mapped is None:
            continue
        tag, body = mapped
        releases.append(_envelope(ocid(process_id), e, tag, body))
    return releases


def _envelope(the_ocid: str, e: EventEnvelope, tag: str, body: Release) -> Release:
    release = {
        "ocid": the_ocid,
        "id": e.event_id,
        "date": instant(e.occurred_at),
        "tag": [tag],
        "initiationType": "tender",
        **body,
    }
    return dict(_clean(release))


def call_off_release(e: EventEnvelope, names: dict[str, str]) -> Release:
    """A call-off as its own process, linked to the framework's process."""
    x = e.payload
    p = Process(x["call_off_id"], dict(names))
    award_id = f"{x['call_off_id']}-award"
    method = "limited" if x.get("procedure") == "direct" else "selective"
    value = (
        {"amount": x["value_eur"], "currency": "EUR"} if x.get("value_eur") is not None else None
    )
    body: Release = {
        "parties": [p.party(x["participant_code"], "buyer"), p.party(x["supplier_id"], "supplier")],
        "buyer": p.ref(x["participant_code"]),
        "tender": {
            "id": x["call_off_id"],
            "status": "complete",
            "procurementMethod": method,
            "procurementMethodDetails": x.get("procedure"),
        },
        "awards": [
            {
                "id": award_id,
                "status": "active",
                "date": on_day(x.get("awarded_on")),
                "suppliers": [p.ref(x["supplier_id"])],
                "relatedLots": [x["lot_id"]],
            }
        ],
        "contracts": [
            {
                "id": x["call_off_id"],
                "awardID": award_id,
                "status": "active",
                "value": value,
                "period": {
                    "startDate": on_day(x.get("start_date")),
                    "endDate": on_day(x.get("end_date")),
                },
            }
        ],
        "relatedProcesses": [
            {
                "id": "framework",
                "relationship": ["framework"],
                "scheme": "ocid",
                "identifier": ocid(x["tender_id"]),
            }
        ],
    }
    release = _envelope(ocid(x["call_off_id"]), e, "award", body)
    release["tag"] = ["award", "contract"]
    return release
