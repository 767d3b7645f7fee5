"""Map OCDS releases to the registry's facts (pure): what each release changed.

A release is compared with the compiled release of the same process before it (merged by
`ocdsmerge`, as OCDS defines): a tender first seen is planned; a tender period or active
status publishes it; a pending award is a provisional award (standstill: the legal 20 days,
OCDS publishes none); an active award makes it definitive; a signed contract is signed; a
changed end date or value is an amendment; a terminated contract is terminated. The facts
are the registry's own event types, so every read model sees them as it sees its own.
Dates of days are the date as published (`2011-06-30T23:59:00Z` is 30 June).

Fields mapped (and compared by the round-trip test): see `MAPPED` in the tests and
docs/ocds-import.md; everything else is kept only in the source.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, get_args

from contracts_schema.base import DomainEvent
from contracts_schema.money import lift_euro
from contracts_schema.registry import events as rg
from contracts_schema.registry.commands import (
    ImportedFact,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.registry.values import (
    NAMED_ONLY_PREFIX,
    ORGANISATION_CODE_PATTERN,
    Procedure,
    named_only_code,
)

IMPLICIT_LOT = "lot-1"  # a tender published without lots is one lot
STANDSTILL_DAYS = 20  # Aanbestedingswet 2012 art. 2.127: the least the law allows
PROCEDURES: frozenset[str] = frozenset(get_args(Procedure))
METHOD_PROCEDURE = {
    "open": "open",
    "selective": "restricted",
    "limited": "negotiated_without_publication",
    "direct": "negotiated_without_publication",
}
UNPUBLISHED_METHODS = frozenset({"limited", "direct"})
_CODE = re.compile(ORGANISATION_CODE_PATTERN)
_DUTCH = {"NL-KVK": "KVK", "NL-OIN": "OIN"}


class Unmappable(ValueError):
    """A release the registry cannot record: where (a JSON path inside it) and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def ident(value: str) -> str:
    """An OCDS id as a registry id (letters, digits, '-', '_'; at most 128)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", value)
    if len(cleaned) > 128:
        cleaned = cleaned[:100] + "-" + hashlib.sha256(value.encode()).hexdigest()[:27]
    return cleaned


def tender_id_of(ocid: str) -> str:
    return ident(ocid)


def command_id(ocid: str, release_id: str, aggregate: str) -> str:
    digest = hashlib.sha256(f"{ocid}\n{release_id}\n{aggregate}".encode()).hexdigest()
    return f"import-{digest[:48]}"


def day(value: Any) -> date | None:
    """The calendar date as published (its own offset), or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def organisation_code(ref: dict[str, Any], parties: dict[str, Any], path: str) -> str:
    pid = str(ref.get("id", ""))
    party = parties.get(pid, ref)
    identifier = party.get("identifier") or {}
    candidates = [pid]
    if identifier.get("scheme") and identifier.get("id"):
        candidates.insert(0, f"{identifier['scheme']}-{identifier['id']}")
    for c in candidates:
        for prefix, ours in _DUTCH.items():
            if c.startswith(prefix + "-"):
                c = f"{ours}-{c[len(prefix) + 1 :]}"
        if _CODE.match(c):
            return c
    raise Unmappable(path, f"organisation {pid!r} ({party.get('name', 'no name')}) has no"
                     " identifier the registry records: NL-KVK-########, NL-OIN-####...,"
                     " a CBS code GM#### or an org-id.guide identifier XX-REGISTER-id")  # fmt: skip


def published_name(ref: dict[str, Any], parties: dict[str, Any]) -> str:
    """The name an organisation reference is published with (its party's, else its own)."""
    party = parties.get(str(ref.get("id", "")), ref)
    return " ".join(str(party.get("name") or ref.get("name") or "").split())[:300]


def authority_code(ref: dict[str, Any], parties: dict[str, Any], path: str) -> str:
    """The contracting authority's code (correct11; importer11's file, party mapping only).

    Portals publish buyers without an `identifier` (a name and a local id): such a release
    was refused whole. Now the buyer is found by its name among the release's parties when
    exactly one code is recorded for that name; failing that, it is recorded under a code
    derived from its name (`named_only_code`), which the registry's import turns into a
    finding (CONTRACTING_AUTHORITY_UNIDENTIFIED). Without a name it is still refused."""
    try:
        return organisation_code(ref, parties, path)
    except Unmappable:
        name = published_name(ref, parties)
        if not name:
            raise
    same = " ".join(name.split()).casefold()
    codes = set()
    for i, other in enumerate(parties.values()):
        if " ".join(str(other.get("name") or "").split()).casefold() == same:
            with contextlib.suppress(Unmappable):
                codes.add(organisation_code(other, parties, f"parties[{i}]"))
    if len(codes) > 1:
        raise Unmappable(path, f"organisation {name!r} has no identifier, and the parties of"
                         f" that name have several: {', '.join(sorted(codes))}")  # fmt: skip
    return codes.pop() if codes else named_only_code(name)


@dataclass
class ProcessState:
    """What the registry has recorded of one process so far (the importer's own tally)."""

    planned: bool = False
    published: bool = False
    cancelled: bool = False
    framework: bool = False
    authority: str = ""
    procedure: str = ""  # as recorded (the planning's, or the publication's: import18)
    procedure_stated: bool = True  # False: recorded as the registry's default
    procedure_noted: str | None = None  # a stated one reported as not recorded
    plan_period: date | None = None  # a plan's tender period start, as recorded (import19)
    lots: dict[str, str] = field(default_factory=dict)  # lot -> open/provisional/awarded/...
    suppliers: dict[str, list[str]] = field(default_factory=dict)  # lot -> supplier codes
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> last seen

    def copy(self) -> ProcessState:
        """A copy to change freely: its dictionaries and lists are its own (their values,
        strings, dates and numbers, are immutable). Every other field is carried over as
        it is, one added later included (the instance's fields copied, not listed here:
        `dataclasses.replace` did the same in five times the time, once per release)."""
        copied = object.__new__(ProcessState)
        copied.__dict__.update(self.__dict__)
        copied.lots = dict(self.lots)
        copied.suppliers = {k: list(v) for k, v in self.suppliers.items()}
        copied.contracts = {k: dict(v) for k, v in self.contracts.items()}
        return copied


@dataclass(frozen=True)
class NotRecorded:
    """A field a release states that no fact records (kept only in the source): reported."""

    path: str  # inside the release
    reason: str


@dataclass
class Mapped:
    tender: RecordImportedTenderRelease
    contracts: list[RecordImportedContractRelease]
    state: ProcessState  # the state once these are recorded
    not_recorded: list[NotRecorded] = field(default_factory=list)

    @property
    def events(self) -> int:
        # Each command appends its facts plus one provenance event.
        return len(self.tender.facts) + 1 + sum(len(c.facts) + 1 for c in self.contracts)


def _fact(event: type[DomainEvent], **payload: Any) -> ImportedFact:
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in payload.items()}
    return ImportedFact(event_type=event.event_type, payload=clean)


def map_release(
    release: dict[str, Any],
    compiled: dict[str, Any],
    state: ProcessState,
    publisher: str,
    package_uri: str | None,
) -> Mapped:
    """The commands that record `release`, given the process compiled with it."""
    ocid, rid = release["ocid"], str(release["id"])
    at = instant(release["date"])
    today = at.date() if day(release["date"]) is None else day(release["date"])
    assert today is not None
    s = state.copy()  # the caller's state changes only once the release is recorded
    tid = tender_id_of(ocid)
    parties = {str(p.get("id")): p for p in compiled.get("parties", []) if isinstance(p, dict)}
    t = compiled.get("tender") or {}
    facts: list[ImportedFact] = []
    lots = [(ident(str(lot["id"])), lot) for lot in t.get("lots", []) if "id" in lot]
    stated = stated_procedure(t)
    plan_cleared = False  # a later plan without the start an earlier one gave
    if not s.planned:
        ref = t.get("procuringEntity") or compiled.get("buyer")
        if not ref:
            raise Unmappable("buyer", "no buyer or procuringEntity: the registry records a"
                             " tender with its contracting authority")  # fmt: skip
        where = "tender.procuringEntity" if t.get("procuringEntity") else "buyer"
        s.authority = authority_code(ref, parties, where)
        # Published by name only: the name goes with the tender (correct13, #17), else GraphQL
        # and the OCDS re-export knew the buyer by its derived code alone.
        named = published_name(ref, parties) if s.authority.startswith(NAMED_ONLY_PREFIX) else None
        # None stated: the procurement rules still need one; recorded as not stated (import17).
        procedure = stated or "national"
        planning = _planning(release, t)
        plan = day((t.get("tenderPeriod") or {}).get("startDate")) if planning else None
        s.framework = bool((t.get("techniques") or {}).get("hasFrameworkAgreement"))
        planned_lots = [{"lot_id": lid, "title": lot.get("title") or lid} for lid, lot in lots]
        if not planned_lots:
            planned_lots = [{"lot_id": IMPLICIT_LOT, "title": t.get("title") or ocid}]
        facts.append(_fact(rg.TenderPlanned, tender_id=tid, title=t.get("title") or ocid,
                           contracting_authority=s.authority, procedure=procedure,
                           **({"contracting_authority_name": named} if named else {}),
                           framework=s.framework, lots=planned_lots, planned_on=today,
                           **({} if stated else {"procedure_stated": False}),
                           **({"tender_period_planned_on": plan} if plan else {})))  # fmt: skip
        s.planned, s.procedure, s.procedure_stated = True, procedure, stated is not None
        s.lots = {lot["lot_id"]: "open" for lot in planned_lots}
        s.plan_period = plan
    elif not s.published and not s.cancelled and _planning(release, t):
        # A later planning release that gives the plan a tender period, or another one: the
        # registry plans a tender once, so the plan is revised (import19).
        plan = day((t.get("tenderPeriod") or {}).get("startDate"))
        plan_cleared = plan is None and s.plan_period is not None
        if plan is not None and plan != s.plan_period:
            facts.append(_fact(rg.TenderPlanRevised, tender_id=tid, tender_period_planned_on=plan,
                               revised_on=today))  # fmt: skip
            s.plan_period = plan
    for i, (lid, _) in enumerate(lots):
        if lid not in s.lots:
            raise Unmappable(
                f"tender.lots[{i}]",
                f"lot {lid} appears after the tender was"
                " planned; the registry records a tender's lots when it is planned",
            )
    status = t.get("status")
    period = day((t.get("tenderPeriod") or {}).get("startDate"))
    # A procedure without publication (a direct award) is not published by its status
    # alone: only a tender period says a notice went out.
    unpublished = t.get("procurementMethod") in UNPUBLISHED_METHODS
    # A period that is only the plan's (e.g. compiled into a cancellation of the plan) is
    # no notice: the plan's start is recorded as a plan (import19), never as a publication.
    noticed = period is not None and period != s.plan_period
    if (
        not s.published
        and ((status in ("active", "complete") and not unpublished) or noticed)
        and not _planning(release, t)
    ):
        notices = [d for d in t.get("documents", []) if d.get("documentType") == "tenderNotice"]
        reference = str(notices[0]["id"]) if notices else rid
        published_on = period or today  # none published: the release's day, marked so
        # A procedure first stated (or changed) since the planning goes with the publication.
        restated = stated if _new_procedure(stated, s) else None
        facts.append(_fact(rg.TenderPublished, tender_id=tid, published_on=published_on,
                           notice_reference=reference, participant_list_frozen_on=published_on,
                           participant_codes=[],
                           **({} if period else {"published_on_stated": False}),
                           **({"procedure": restated} if restated else {})))  # fmt: skip
        s.published = True
        if restated:
            s.procedure, s.procedure_stated = restated, True
    not_recorded: list[NotRecorded] = []
    if plan_cleared:
        # No fact clears a plan's start: said, not silently kept (review16c).
        not_recorded.append(NotRecorded(
            "tender.tenderPeriod.startDate",
            f"NOT_RECORDED: the plan's tender period start {s.plan_period} is cleared here;"
            " the registry keeps a plan's start until another is given"))  # fmt: skip
    if stated is not None and _new_procedure(stated, s) and stated != s.procedure_noted:
        # Neither planned nor published by this release: no fact of the registry carries a
        # procedure then (a correction notice records no changed field).
        s.procedure_noted = stated
        not_recorded.append(NotRecorded(
            "tender.procurementMethod",
            f"NOT_RECORDED: procedure {stated} stated here is not the one recorded"
            f" ({s.procedure}{'' if s.procedure_stated else ', not stated'}): the registry"
            " records a tender's procedure with its planning or its publication, and this"
            " release is neither"))  # fmt: skip
    for lid, lot in lots:
        if lot.get("status") == "cancelled" and s.lots.get(lid) not in ("cancelled", "awarded"):
            why = lot.get("statusDetails") or "cancelled (published)"
            facts.append(_fact(rg.LotCancelled, tender_id=tid, lot_id=lid, cancelled_on=today,
                               reason=why))  # fmt: skip
            s.lots[lid] = "cancelled"
    facts += _awards(compiled, s, tid, today, parties)
    if status in ("cancelled", "unsuccessful", "withdrawn") and not s.cancelled:
        open_lots = [lid for lid, st in s.lots.items() if st not in ("cancelled", "awarded")]
        facts.append(_fact(rg.TenderCancelled, tender_id=tid, cancelled_on=today,
                           reason=t.get("statusDetails") or f"{status} (published)",
                           lot_ids=open_lots))  # fmt: skip
        s.cancelled = True
        for lid in open_lots:
            s.lots[lid] = "cancelled"
    provenance = {"ocid": ocid, "release_id": rid, "release_date": at, "publisher": publisher,
                  "package_uri": package_uri, "occurred_at": at}  # fmt: skip
    tender = RecordImportedTenderRelease(
        command_id=command_id(ocid, rid, "tender"), tender_id=tid, facts=facts, **provenance
    )
    contracts = []
    for i, c in enumerate(compiled.get("contracts", [])):
        changed = _contract(c, i, compiled, s, tid, today, parties, rid)
        if changed:
            cid, contract_facts = changed
            contracts.append(RecordImportedContractRelease(
                command_id=command_id(ocid, rid, cid), contract_id=cid, facts=contract_facts,
                **provenance))  # fmt: skip
    return Mapped(tender, contracts, s, not_recorded)


def stated_procedure(tender: dict[str, Any]) -> Procedure | None:
    """The registry's procedure a tender states (its details if one of ours, else its
    method's), or None when it states none."""
    details = tender.get("procurementMethodDetails")
    if details in PROCEDURES:
        return details  # type: ignore[no-any-return]
    return METHOD_PROCEDURE.get(str(tender.get("procurementMethod")))  # type: ignore[return-value]


def _new_procedure(stated: str | None, s: ProcessState) -> bool:
    """Whether `stated` is a procedure the registry has not recorded as stated."""
    return stated is not None and (stated != s.procedure or not s.procedure_stated)


def _planning(release: dict[str, Any], tender: dict[str, Any]) -> bool:
    """A release of the plan: its tenderPeriod is planned, not a publication."""
    return "planning" in (release.get("tag") or []) or tender.get("status") == "planned"


def _award_lots(award: dict[str, Any], s: ProcessState, compiled: dict[str, Any]) -> list[str]:
    """The lots an award is for. A process recorded as one implicit lot (its tender declared
    none) whose awards name at most one lot between them: that name is a lot of another
    process (our own export's call-off names its framework's lot), so the award is for the
    one lot. Awards naming several lots of a tender that declared none are not mapped onto
    one (review13: the second award was silently lost): the caller refuses them."""
    related = [ident(str(lid)) for lid in award.get("relatedLots", [])]
    if list(s.lots) == [IMPLICIT_LOT]:
        named = {str(lid) for a in compiled.get("awards", []) for lid in a.get("relatedLots", [])}
        if len(named) <= 1:
            return [IMPLICIT_LOT]
    return related or list(s.lots)[:1]


def _awards(
    compiled: dict[str, Any], s: ProcessState, tid: str, today: date, parties: dict[str, Any]
) -> list[ImportedFact]:
    facts = []
    for i, award in enumerate(compiled.get("awards", [])):
        status = award.get("status")
        codes = [organisation_code(ref, parties, f"awards[{i}].suppliers[{j}]")
                 for j, ref in enumerate(award.get("suppliers", []))]  # fmt: skip
        on = day(award.get("date")) or today
        for lid in _award_lots(award, s, compiled):
            if lid not in s.lots:
                raise Unmappable(f"awards[{i}].relatedLots", f"lot {lid} is not a lot of the"
                                 " tender")  # fmt: skip
            lot = s.lots[lid]
            if status in ("pending", "active") and codes and lot in ("open", "provisional"):
                if lot == "open" or s.suppliers.get(lid) != codes:
                    ends = on + timedelta(days=STANDSTILL_DAYS)
                    if lot == "provisional":
                        facts.append(_fact(
                            rg.ProvisionalAwardRevised, tender_id=tid, lot_id=lid,
                            previous_supplier_ids=s.suppliers[lid], supplier_ids=codes,
                            decision_sent_on=on, standstill_ends_on=ends,
                            reason="revised (published)"))  # fmt: skip
                    else:
                        facts.append(_fact(rg.ProvisionalAwardDecided, tender_id=tid, lot_id=lid,
                                           supplier_ids=codes, decision_sent_on=on,
                                           standstill_ends_on=ends))  # fmt: skip
                    s.lots[lid], s.suppliers[lid] = "provisional", codes
                if status == "active":
                    facts.append(_fact(rg.AwardMadeDefinitive, tender_id=tid, lot_id=lid,
                                       supplier_ids=codes, awarded_on=on))  # fmt: skip
                    s.lots[lid] = "awarded"
            elif status in ("cancelled", "unsuccessful") and lot == "provisional":
                why = award.get("description") or f"award {status}"
                facts.append(_fact(rg.ProvisionalAwardWithdrawn, tender_id=tid, lot_id=lid,
                                   supplier_ids=s.suppliers.get(lid, []), withdrawn_on=today,
                                   reason=why))  # fmt: skip
                s.lots[lid], s.suppliers[lid] = "open", []
    return facts


def contract_id_of(ocid: str, contract_id: str) -> str:
    return ident(contract_id if contract_id.startswith(ocid) else f"{ocid}-{contract_id}")


def _contract(
    c: dict[str, Any],
    i: int,
    compiled: dict[str, Any],
    s: ProcessState,
    tid: str,
    today: date,
    parties: dict[str, Any],
    rid: str,
) -> tuple[str, list[ImportedFact]] | None:
    path = f"contracts[{i}]"
    cid = contract_id_of(compiled["ocid"], str(c.get("id", i)))
    period = c.get("period") or {}
    value = c.get("value") or {}
    eur = value.get("amount") if value.get("currency") == "EUR" else None
    seen = s.contracts.get(cid)
    facts: list[ImportedFact] = []
    status = c.get("status")
    if seen is None:
        if status not in ("active", "terminated") and not c.get("dateSigned"):
            return None  # pending: not a contract yet
        end = day(period.get("endDate"))
        if end is None:
            raise Unmappable(f"{path}.period.endDate", "a contract is recorded with its end"
                             " date (expiry warnings and as-of views run on it)")  # fmt: skip
        awards = [a for a in compiled.get("awards", []) if a.get("id") == c.get("awardID")]
        award = awards[0] if awards else None
        if award is None or not award.get("suppliers"):
            raise Unmappable(f"{path}.awardID", "the contract's award (with its suppliers) is"
                             " not in the release; the registry records who the contract is"
                             " with")  # fmt: skip
        lot_ids = _award_lots(award, s, compiled)
        suppliers = []
        for j, ref in enumerate(award["suppliers"]):
            a = compiled["awards"].index(award)
            code = organisation_code(ref, parties, f"awards[{a}].suppliers[{j}]")
            name = (parties.get(str(ref.get("id"))) or ref).get("name") or code
            suppliers.append({"supplier_id": code, "name": name, "lot_ids": lot_ids})
        signed = day(c.get("dateSigned")) or today
        facts.append(_fact(rg.ContractSigned, contract_id=cid,
                           kind="framework" if s.framework else "contract", tender_id=tid,
                           lot_ids=lot_ids, contracting_authority=s.authority,
                           suppliers=suppliers, signed_on=signed,
                           start_date=day(period.get("startDate")) or signed, end_date=end,
                           max_extent_date=day(period.get("maxExtentDate")), value=lift_euro(eur),
                           title=c.get("title") or None))  # fmt: skip
        seen = {"end": end, "extent": day(period.get("maxExtentDate")), "value": eur,
                "status": "active"}  # fmt: skip
    else:
        change: dict[str, Any] = {}
        end, extent = day(period.get("endDate")), day(period.get("maxExtentDate"))
        if end is not None and end != seen["end"]:
            change["new_end_date"] = seen["end"] = end
        if extent is not None and extent != seen["extent"]:
            change["new_max_extent_date"] = seen["extent"] = extent
        if eur is not None and eur != seen["value"]:
            seen["value"] = eur
            change["new_value"] = lift_euro(eur)
        if change:
            summary = f"changed in published release {rid}"
            facts.append(_fact(rg.ContractAmended, contract_id=cid, amended_on=today,
                               summary=summary, **change))  # fmt: skip
    if status == "terminated" and seen["status"] != "terminated":
        facts.append(_fact(rg.ContractTerminated, contract_id=cid, terminated_on=today,
                           reason=c.get("statusDetails") or "terminated (published)"))  # fmt: skip
        seen["status"] = "terminated"
    s.contracts[cid] = dict(seen)
    return (cid, facts) if facts else None
