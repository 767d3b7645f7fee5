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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, get_args

from pydantic import ValidationError

from audit.ocds.codes import method as exported_method
from audit.ocds.importer_ids import Parties as Parties

# (re-exported: the importer and the tests name them from here, as before the split)
from audit.ocds.importer_ids import Unmappable as Unmappable
from audit.ocds.importer_ids import authority_code as authority_code
from audit.ocds.importer_ids import command_id as command_id
from audit.ocds.importer_ids import contract_id_of as contract_id_of
from audit.ocds.importer_ids import day as day
from audit.ocds.importer_ids import ident as ident
from audit.ocds.importer_ids import instant as instant
from audit.ocds.importer_ids import organisation_code as organisation_code
from audit.ocds.importer_ids import published_name as published_name
from audit.ocds.importer_ids import supplier_code as supplier_code
from audit.ocds.importer_ids import supplier_codes as supplier_codes
from audit.ocds.importer_ids import tender_id_of as tender_id_of
from audit.ocds.importer_unrecorded import NotRecorded as NotRecorded
from audit.ocds.importer_unrecorded import Unrecordable as Unrecordable
from audit.ocds.importer_unrecorded import (
    amounts_out_of_bounds,
    authority_changed,
    contract_not_recorded,
    days_out_of_range,
    invisible_texts,
    note,
    own_lots,
    stated_end,
    states,
    tender_not_recorded,
)
from contracts_schema.base import DomainEvent
from contracts_schema.money import lift_euro
from contracts_schema.registry import events as rg
from contracts_schema.registry.commands import (
    ImportedFact,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.registry.state.contract import OPEN_END
from contracts_schema.registry.values import NAMED_ONLY_PREFIX, Procedure

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
    plan_period: date | None = None  # a plan's tender period start, as recorded (import19)
    # As the re-export shows it (import20: a later release may restate it); None: not stated
    # (import30: recorded titled by the ocid, marked not stated)
    title: str | None = ""
    start: date | None = None  # the tender period start the re-export shows (import20)
    lots: dict[str, str] = field(default_factory=dict)  # lot -> open/provisional/awarded/...
    # lot -> title, as the re-export shows it; None: not stated (import30: recorded titled by
    # its id, marked not stated)
    lot_titles: dict[str, str | None] = field(default_factory=dict)
    suppliers: dict[str, list[str]] = field(default_factory=dict)  # lot -> supplier codes
    # lot -> the id of the award that holds it (import24): mapped in this run, or recorded
    # with the lot's award (import25: `source_award_id`), so a later run knows it too
    holders: dict[str, str] = field(default_factory=dict)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> last seen
    # lot -> its award's day as recorded by an earlier run (import28: the decision's, or the
    # definitive award's), for an award a later run restates without its date
    award_days: dict[str, date] = field(default_factory=dict)

    def copy(self) -> ProcessState:
        """A copy to change freely: its dictionaries and lists are its own (their values,
        strings, dates and numbers, are immutable). Every other field is carried over as
        it is, one added later included (the instance's fields copied, not listed here:
        `dataclasses.replace` did the same in five times the time, once per release)."""
        copied = object.__new__(ProcessState)
        copied.__dict__.update(self.__dict__)
        copied.lots = dict(self.lots)
        copied.lot_titles = dict(self.lot_titles)
        copied.holders = dict(self.holders)
        copied.award_days = dict(self.award_days)
        copied.suppliers = {k: list(v) for k, v in self.suppliers.items()}
        copied.contracts = {k: dict(v) for k, v in self.contracts.items()}
        return copied


@dataclass
class Mapped:
    tender: RecordImportedTenderRelease
    contracts: list[RecordImportedContractRelease]
    state: ProcessState  # the state once these are recorded

    @property
    def events(self) -> int:
        # Each command appends its facts plus one provenance event.
        return len(self.tender.facts) + 1 + sum(len(c.facts) + 1 for c in self.contracts)


# A command field -> the field of the release its value is mapped from (`refused_field`).
_FROM_RELEASE = {"occurred_at": "date", "release_date": "date", "release_id": "id",
                 "ocid": "ocid", "tender_id": "ocid", "contract_id": "contracts"}  # fmt: skip
# ... or of the package holding it.
_FROM_PACKAGE = {"publisher": "publisher.name", "package_uri": "uri"}


def refused_field(where: str, release: dict[str, Any], exc: ValidationError) -> tuple[str, str]:
    """(path, reason) of a release whose mapped command pydantic refuses (`where`: the
    release's path): the path of the field the value came from and one line of reason, as
    the other skip reasons read. Before (correct20), the release's path and pydantic's
    multi-line text with its help link (`1 validation error for ...`)."""
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    why = (str(first["msg"]).removeprefix("Value error, ").splitlines() or [""])[0]
    name = loc[0] if loc else ""
    if name in _FROM_RELEASE:
        field_name = _FROM_RELEASE[name]
        given = release.get(field_name)
        shown = f"{given!r}"[:80] if isinstance(given, str | int | float) else field_name
        return f"{where}.{field_name}", f"{shown} cannot be recorded: {why}"
    if name in _FROM_PACKAGE:
        package = where.split(".releases[", 1)[0].split(".records[", 1)[0]
        return f"{package}.{_FROM_PACKAGE[name]}", f"cannot be recorded: {why}"
    return where, f"cannot be recorded: {exc.title}.{'.'.join(loc)}: {why}"


def _fact(event: type[DomainEvent], **payload: Any) -> ImportedFact:
    # (`payload` is this call's own dict: its days are made text in place, import40)
    for k, v in payload.items():
        if isinstance(v, date):
            payload[k] = v.isoformat()
    return ImportedFact(event_type=event.event_type, payload=payload)


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
    parties = Parties.of(compiled)
    compiled = with_recorded(compiled, s, release, parties)
    t = compiled.get("tender") or {}
    own = release.get("tender")  # what this release itself states (import24: see `states`)
    facts: list[ImportedFact] = []
    lots = [(ident(str(lot["id"])), lot) for lot in t.get("lots", []) if "id" in lot]
    stated = stated_procedure(t)
    stated_title = t.get("title") or None  # (an empty title is none: the registry's are not)
    title = stated_title or ocid
    framework = bool((t.get("techniques") or {}).get("hasFrameworkAgreement"))
    start = day((t.get("tenderPeriod") or {}).get("startDate"))
    not_recorded: list[NotRecorded] = invisible_texts(release)  # review18a finding 7
    not_recorded += amounts_out_of_bounds(release)  # correct20
    not_recorded += days_out_of_range(release)  # correct21
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
        plan = start if planning else None
        s.framework = framework
        # A title not stated (OCDS makes both optional): recorded as the registry's default
        # (the ocid; a lot's id), marked not stated, left out by the export (import30).
        shown = {lid: lot.get("title") or None for lid, lot in lots}
        if not shown:  # a tender without lots: one lot, titled as the tender
            shown = {IMPLICIT_LOT: stated_title}
        planned_lots = [{"lot_id": lid, "title": named or (lid if lots else title)}
                        for lid, named in shown.items()]  # fmt: skip
        untitled = [lid for lid, named in shown.items() if named is None]
        facts.append(_fact(rg.TenderPlanned, tender_id=tid, title=title,
                           contracting_authority=s.authority, procedure=procedure,
                           **({"contracting_authority_name": named} if named else {}),
                           framework=s.framework, lots=planned_lots, planned_on=today,
                           **({} if stated else {"procedure_stated": False}),
                           **({} if stated_title else {"title_stated": False}),
                           **({"untitled_lot_ids": untitled} if untitled else {}),
                           **({"tender_period_planned_on": plan} if plan else {})))  # fmt: skip
        s.planned, s.procedure, s.procedure_stated = True, procedure, stated is not None
        s.lots = {lot["lot_id"]: "open" for lot in planned_lots}
        s.lot_titles = shown
        s.title, s.plan_period, s.start = stated_title, plan, plan
    else:
        if states(release, "buyer") or states(own, "procuringEntity"):
            not_recorded += authority_changed(t, compiled, parties, s)
        # A later planning release that gives the plan a tender period, or another one: the
        # registry plans a tender once, so the plan is revised (import19).
        revising = not s.published and not s.cancelled and _planning(release, t)
        if revising and start is not None and start != s.plan_period:
            facts.append(_fact(rg.TenderPlanRevised, tender_id=tid,
                               tender_period_planned_on=start, revised_on=today))  # fmt: skip
            s.plan_period = s.start = start
    for i, (lid, _) in enumerate(lots):
        if lid not in s.lots:
            raise Unmappable(
                f"tender.lots[{i}]",
                f"lot {lid} appears after the tender was"
                " planned; the registry records a tender's lots when it is planned",
            )
    status = t.get("status")
    # A procedure without publication (a direct award) is not published by its status
    # alone: only a tender period says a notice went out.
    unpublished = t.get("procurementMethod") in UNPUBLISHED_METHODS
    # A period that is only the plan's (e.g. compiled into a cancellation of the plan) is
    # no notice: the plan's start is recorded as a plan (import19), never as a publication.
    noticed = start is not None and start != s.plan_period
    if (
        not s.published
        and ((status in ("active", "complete") and not unpublished) or noticed)
        and not _planning(release, t)
    ):
        notices = [d for d in t.get("documents", []) if d.get("documentType") == "tenderNotice"]
        reference = str(notices[0]["id"]) if notices else rid
        published_on = start or today  # none published: the release's day, marked so
        # A procedure first stated (or changed) since the planning goes with the publication.
        restated = stated if _new_procedure(stated, s) else None
        facts.append(_fact(rg.TenderPublished, tender_id=tid, published_on=published_on,
                           notice_reference=reference, participant_list_frozen_on=published_on,
                           participant_codes=[],
                           **({} if start else {"published_on_stated": False}),
                           **({"procedure": restated} if restated else {})))  # fmt: skip
        s.published = True
        if start is not None:
            s.start = start  # else the plan's start stays the one shown
        if restated:
            s.procedure, s.procedure_stated = restated, True
    # What a later release changes of what was recorded is recorded as restated (import20).
    changes = _restatement(s, stated_title, framework, stated, start, lots, own)
    if changes:
        facts.append(_fact(rg.TenderRestated, tender_id=tid, restated_on=today, **changes))
    not_recorded += tender_not_recorded(t, lots, s, own)
    for lid, lot in lots:
        if lot.get("status") == "cancelled" and s.lots.get(lid) not in ("cancelled", "awarded"):
            why = lot.get("statusDetails") or "cancelled (published)"
            facts.append(_fact(rg.LotCancelled, tender_id=tid, lot_id=lid, cancelled_on=today,
                               reason=why))  # fmt: skip
            s.lots[lid] = "cancelled"
    facts += _awards(compiled, s, tid, today, parties, not_recorded, release)
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
    # A release without contracts or awards changes no contract's compiled fields: what
    # no fact records of them was reported with the release that changed it.
    said = not_recorded if "contracts" in release or "awards" in release else None
    for i, c in enumerate(compiled.get("contracts", [])):
        changed = _contract(c, i, compiled, s, tid, today, parties, release, said)
        if changed:
            cid, contract_facts = changed
            contracts.append(RecordImportedContractRelease(
                command_id=command_id(ocid, rid, cid), contract_id=cid, facts=contract_facts,
                **provenance))  # fmt: skip
    if not_recorded:
        # A change no fact can carry: the release is refused whole (import25), none of its
        # facts recorded; the caller keeps the state and compile from before it.
        raise Unrecordable(not_recorded)
    return Mapped(tender, contracts, s)


def with_recorded(
    compiled: dict[str, Any], s: ProcessState, release: dict[str, Any], parties: dict[str, Any]
) -> dict[str, Any]:
    """The compile as it would be had the releases of earlier runs been compiled with this
    run's (import28, review18a): a daily feed's compile holds only its own releases, so an
    award it restates in part (its status only, its suppliers only, its lots only) lacks
    what an earlier run's release stated of it, and a contract value stated by its amount
    only lacks its currency. Each is taken from what the registry recorded: an award's
    status, suppliers and lots from the lots it holds (`holders`, the recorded
    `source_award_id`), a contract's currency (EUR: the registry records no other) from its
    recorded value. A field this release itself states (an explicit null, an empty list)
    stays as compiled. A copy: the compile's sections are shared, never changed."""
    out = compiled
    awards = compiled.get("awards")
    if isinstance(awards, list) and s.holders:
        own = {str(a.get("id")): a for a in release.get("awards") or [] if isinstance(a, dict)}
        filled_awards = list(awards)
        held_by: dict[str, list[str]] = {}  # award id -> the lots it holds, as recorded
        for lid, held in s.holders.items():
            if s.lots.get(lid) in ("provisional", "awarded"):
                held_by.setdefault(held, []).append(lid)
        for i, award in enumerate(awards):
            lots = held_by.get(str(award.get("id"))) if isinstance(award, dict) else None
            if not lots:
                continue
            aid = str(award.get("id"))
            keys = ["status", "suppliers", "date"]
            if list(s.lots) != [IMPLICIT_LOT]:  # (the one lot: `_award_lots` names it)
                keys.append("relatedLots")
            stated = own.get(aid)
            missing = [k for k in keys if award.get(k) in (None, []) and not states(stated, k)]
            codes = s.suppliers.get(lots[0]) or []
            if "suppliers" in missing and not codes:
                missing.remove("suppliers")
            more = _more_suppliers(award, codes, parties)
            if more is not None:  # OCDS merges suppliers by id: the recorded ones stay
                award = {**award, "suppliers": more}
                filled_awards[i] = award
                out = {**out, "awards": filled_awards}
            recorded_day = s.award_days.get(lots[0])
            if "date" in missing and recorded_day is None:
                missing.remove("date")
            if not missing:
                continue
            award = dict(award)
            if "status" in missing:
                award["status"] = "active" if s.lots[lots[0]] == "awarded" else "pending"
            if "suppliers" in missing:
                award["suppliers"] = _supplier_refs(codes, parties)
            if "relatedLots" in missing:
                award["relatedLots"] = lots
            if "date" in missing:
                award["date"] = f"{recorded_day}T00:00:00Z"
            filled_awards[i] = award
            out = {**out, "awards": filled_awards}
    contracts = compiled.get("contracts")
    if isinstance(contracts, list) and s.contracts:
        mine = {str(c.get("id")): c for c in release.get("contracts") or [] if isinstance(c, dict)}
        filled_contracts = list(contracts)
        for i, c in enumerate(contracts):
            value = c.get("value") if isinstance(c, dict) else None
            if not isinstance(value, dict) or value.get("currency") is not None:
                continue
            seen = s.contracts.get(contract_id_of(compiled["ocid"], str(c.get("id", i))))
            if (
                seen is not None
                and seen.get("value") is not None
                and value.get("amount") is not None
                and not states(mine.get(str(c.get("id"))), "value", "currency")
            ):
                filled_contracts[i] = {**c, "value": {**value, "currency": "EUR"}}
                out = {**out, "contracts": filled_contracts}
    return out


def _more_suppliers(
    award: dict[str, Any], codes: list[str], parties: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The award's suppliers as one run compiles them (merged by id onto the recorded ones:
    those first, then the ones this run adds), or None when this run names only recorded
    ones (or none)."""
    stated = award.get("suppliers")
    if not codes or not isinstance(stated, list) or not stated:
        return None
    new = []
    for ref in stated:
        try:
            code = supplier_code(ref, parties, "awards")
        except Unmappable:
            return None  # (reported by the mapping, as before)
        if code not in codes:
            new.append(ref)
    if not new:
        return None
    return [*_supplier_refs(codes, parties), *new]


def _supplier_refs(codes: list[str], parties: dict[str, Any]) -> list[dict[str, Any]]:
    """Organisation references to the recorded suppliers `codes`: the compile's party of
    each code if it has one, else the code itself (what `organisation_code` reads back)."""
    by_code = {}
    for ref in parties.values():
        with contextlib.suppress(Unmappable):
            by_code[supplier_code(ref, parties, "parties")] = ref
    return [{"id": str((by_code.get(code) or {}).get("id", code)),
             "name": (by_code.get(code) or {}).get("name") or code} for code in codes]  # fmt: skip


def _restatement(
    s: ProcessState,
    title: str | None,
    framework: bool,
    stated: Procedure | None,
    start: date | None,
    lots: list[tuple[str, dict[str, Any]]],
    own: Any,
) -> dict[str, Any]:
    """What the process compiled with this release says otherwise than recorded (and shown
    by the re-export): the fields of a `TenderRestated` (import20), and the tally updated.
    Only the fields the release itself states (`own`, its tender) are compared (import24):
    a later run's compile holds only that run's releases, so a field it lacks may be one an
    earlier run's release stated; one the release leaves out is unchanged, as it merges."""
    changes: dict[str, Any] = {}
    if states(own, "title") and title != s.title:
        # A title no longer stated stays recorded, marked not stated (import30).
        if title is None:
            changes["title_stated"] = False
        else:
            changes["title"] = title
        s.title = title
    if states(own, "techniques", "hasFrameworkAgreement") and framework != s.framework:
        changes["framework"] = s.framework = framework
    said = _procedure_said(own, s)
    if said and _new_procedure(stated, s):
        changes["procedure"] = stated
        s.procedure, s.procedure_stated = str(stated), True
    elif said and stated is None and s.procedure_stated:
        # No longer stated: the recorded one stays for the rules, but is not published.
        changes["procedure_stated"] = s.procedure_stated = False
    # A tender published without lots is one lot titled as the tender (as planned). A lot's
    # title no longer stated stays recorded, marked not stated (import30).
    titled = own_lots(own)
    titles = {lid: lot.get("title") or None for lid, lot in lots
              if states(titled.get(lid), "title")}  # fmt: skip
    if not lots:
        titles = {IMPLICIT_LOT: title} if states(own, "title") else {}
    changed = {lid: new for lid, new in titles.items()
               if lid in s.lot_titles and s.lot_titles[lid] != new}  # fmt: skip
    retitled = [{"lot_id": lid, "title": new} for lid, new in changed.items() if new]
    if retitled:
        changes["lots"] = retitled
    untitled = [lid for lid, new in changed.items() if new is None]
    if untitled:
        changes["untitled_lot_ids"] = untitled
    s.lot_titles.update(changed)
    if states(own, "tenderPeriod", "startDate") and start != s.start:
        # The tender period's start: a published tender's publication day, else the plan's;
        # no longer stated, a publication day stays recorded, not published, a plan's goes.
        if start is None:
            changes["tender_period_start_cleared"] = True
        else:
            changes["tender_period_start"] = start
        s.start = start
        if not s.published:
            s.plan_period = start
        elif start is None:
            s.plan_period = None  # the fold forgets it too: nothing stated is shown
    return changes


def _procedure_said(own: Any, s: ProcessState) -> bool:
    """Whether the release itself states the tender's procedure. Its method alone, that of
    the procedure recorded as stated, says nothing new: the details naming it came with an
    earlier release, perhaps of an earlier run, that this run's compile does not hold."""
    if states(own, "procurementMethodDetails"):
        return True
    if not states(own, "procurementMethod"):
        return False
    method = own.get("procurementMethod") if isinstance(own, dict) else None
    same = s.procedure_stated and s.procedure in PROCEDURES and method is not None
    return not (same and exported_method(s.procedure, s.published) == method)  # type: ignore[arg-type]


def shown_start(
    published_on: date | None, published_on_stated: bool, plan: date | None
) -> date | None:
    """The tender period start a re-export shows of what the tender fold recorded: its
    publication day when stated, else the plan's start (a publication that stated none
    leaves the plan's start compiled, as the source's own compile does)."""
    return published_on if published_on is not None and published_on_stated else plan


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
    compiled: dict[str, Any],
    s: ProcessState,
    tid: str,
    today: date,
    parties: dict[str, Any],
    not_recorded: list[NotRecorded],
    release: dict[str, Any],
) -> list[ImportedFact]:
    facts = []
    live: dict[str, list[str]] = {}  # lot -> the suppliers a pending or active award names
    named: dict[str, int] = {}  # lot -> the last award naming it, whatever its status
    own = {str(a.get("id")): a for a in release.get("awards") or [] if isinstance(a, dict)}
    for i, award in enumerate(compiled.get("awards", [])):
        status = award.get("status")
        aid = str(award.get("id"))
        codes = supplier_codes(award, parties, f"awards[{i}]")
        on = day(award.get("date")) or today
        # An award an earlier run recorded (import25: its id kept with the lot), restated here
        # without its suppliers or lots (a feed stating only its new status): as recorded.
        held = [lid for lid, holder in s.holders.items() if holder == aid]
        if held and not award.get("suppliers"):
            codes = list(s.suppliers.get(held[0], []))
        related = held if held and not award.get("relatedLots") else None
        for lid in related or _award_lots(award, s, compiled):
            if lid not in s.lots:
                raise Unmappable(f"awards[{i}].relatedLots", f"lot {lid} is not a lot of the"
                                 " tender")  # fmt: skip
            lot = s.lots[lid]
            named[lid] = i
            if status in ("pending", "active") and codes:
                live[lid] = codes
                if lot == "cancelled":
                    not_recorded += note(f"awards[{i}].status", f"lot {lid} was cancelled:"
                                         " the registry awards no cancelled lot")  # fmt: skip
                if lot == "awarded" and sorted(s.suppliers.get(lid, [])) != sorted(codes):
                    not_recorded += note(f"awards[{i}].suppliers", f"lot {lid}'s"
                                          f" definitive award names {s.suppliers.get(lid)}; the"
                                          " registry revises only a provisional award")  # fmt: skip
            if status in ("pending", "active") and codes and lot in ("open", "provisional"):
                if lot == "open" or s.suppliers.get(lid) != codes:
                    ends = on + timedelta(days=STANDSTILL_DAYS)
                    if lot == "provisional":
                        facts.append(_fact(
                            rg.ProvisionalAwardRevised, tender_id=tid, lot_id=lid,
                            previous_supplier_ids=s.suppliers[lid], supplier_ids=codes,
                            decision_sent_on=on, standstill_ends_on=ends,
                            reason="revised (published)", source_award_id=aid))  # fmt: skip
                    else:
                        facts.append(_fact(rg.ProvisionalAwardDecided, tender_id=tid, lot_id=lid,
                                           supplier_ids=codes, decision_sent_on=on,
                                           standstill_ends_on=ends,
                                           source_award_id=aid))  # fmt: skip
                    s.lots[lid], s.suppliers[lid] = "provisional", codes
                if status == "active":
                    facts.append(_fact(rg.AwardMadeDefinitive, tender_id=tid, lot_id=lid,
                                       supplier_ids=codes, awarded_on=on,
                                       source_award_id=aid))  # fmt: skip
                    s.lots[lid] = "awarded"
                s.holders[lid] = aid
            elif (
                status in ("cancelled", "unsuccessful")
                and lot == "provisional"
                and _holds(award, aid, codes, lid, s)
            ):
                why = award.get("description") or f"award {status}"
                facts.append(_fact(rg.ProvisionalAwardWithdrawn, tender_id=tid, lot_id=lid,
                                   supplier_ids=s.suppliers.get(lid, []), withdrawn_on=today,
                                   reason=why))  # fmt: skip
                s.lots[lid], s.suppliers[lid] = "open", []
                s.holders.pop(lid, None)
    for lid, lot in list(s.lots.items()):
        holder = _holder(lid, s, compiled, own, parties)
        if lid in live or not _gone(own.get(holder), lid, s, compiled):
            continue
        if lot == "provisional":
            # No pending or active award names the lot any more (its award moved to another
            # lot, or lost its suppliers): the provisional award is withdrawn (import20).
            facts.append(_fact(rg.ProvisionalAwardWithdrawn, tender_id=tid, lot_id=lid,
                               supplier_ids=s.suppliers.get(lid, []), withdrawn_on=today,
                               reason="no longer awarded (published)"))  # fmt: skip
            s.lots[lid], s.suppliers[lid] = "open", []
            s.holders.pop(lid, None)
        elif lot == "awarded":
            where = f"awards[{named[lid]}].status" if lid in named else "awards"
            not_recorded += note(where, f"no pending or active award names lot"
                                  f" {lid} any more, but its award was definitive: the"
                                  " registry withdraws only a provisional award")  # fmt: skip
    return facts


def _holder(
    lid: str,
    s: ProcessState,
    compiled: dict[str, Any],
    own: dict[str, dict[str, Any]],
    parties: dict[str, Any],
) -> str:
    """The id of the award that holds lot `lid` ("" if none is known): mapped in this run
    (`s.holders`), else (a daily feed: the registry records no award id) an award this
    release itself states that names the lot and the suppliers recorded for it (import25: a
    definitive award cancelled in a later run was imported without a word)."""
    if lid in s.holders:
        return s.holders[lid]
    recorded = sorted(s.suppliers.get(lid, []))
    if not recorded:
        return ""
    for i, award in enumerate(compiled.get("awards", [])):
        aid = str(award.get("id"))
        if aid not in own or lid not in _award_lots(award, s, compiled):
            continue
        try:
            codes = sorted(supplier_codes(award, parties, f"awards[{i}]"))
        except Unmappable:
            continue
        if codes == recorded:
            return aid
    return ""


def recover_holders(s: ProcessState, compiled: dict[str, Any]) -> None:
    """Which awards hold the lots recorded as awarded (provisionally or definitively), from
    the compile of releases the registry recorded in an earlier run (import24): the registry
    records no award ids, so a re-run finds them in those releases, by lot and suppliers."""
    parties = Parties.of(compiled)
    for i, award in enumerate(compiled.get("awards", [])):
        if award.get("status") not in ("pending", "active") or "id" not in award:
            continue
        try:
            codes = sorted(supplier_codes(award, parties, f"awards[{i}]"))
        except Unmappable:
            continue
        for lid in _award_lots(award, s, compiled):
            recorded = s.lots.get(lid) in ("provisional", "awarded")
            if recorded and codes and sorted(s.suppliers.get(lid, [])) == codes:
                s.holders[lid] = str(award["id"])


def _recorded_award(
    c: dict[str, Any], s: ProcessState, parties: dict[str, Any]
) -> dict[str, Any] | None:
    """The award a contract names, as recorded by an earlier run (import25): a daily feed's
    contract release may state only the contract, its award stated by an earlier release
    that is not in this run. The lots that award holds (`holders`, from the recorded
    `source_award_id`) and their suppliers, as an OCDS award; None if no lot is held by it."""
    aid = str(c.get("awardID"))
    lots = [lid for lid, held in s.holders.items() if held == aid and s.suppliers.get(lid)]
    if not lots:
        return None
    return {
        "id": aid,
        "status": "active" if s.lots[lots[0]] == "awarded" else "pending",
        "relatedLots": lots,
        "suppliers": _supplier_refs(s.suppliers[lots[0]], parties),
    }


def _holds(award: dict[str, Any], aid: str, codes: list[str], lid: str, s: ProcessState) -> bool:
    """Whether a cancelled or unsuccessful award is the one that holds lot `lid`'s
    provisional award (import24: another award, listed before it, may have replaced it):
    the same award when known (mapped in this run), else one naming the same suppliers."""
    if lid in s.holders:
        return s.holders[lid] == aid
    return bool(codes) and sorted(codes) == sorted(s.suppliers.get(lid, []))


def _gone(own: dict[str, Any] | None, lid: str, s: ProcessState, compiled: dict[str, Any]) -> bool:
    """Whether the award that held lot `lid` no longer names it, as this release itself
    states it (`own`, the release's own award of that id; import24): it names other lots
    now, no suppliers, or is no longer pending or active. An award the release does not
    state is unchanged (a later run's
    compile holds only that run's releases), and one not known (a tally rebuilt from the
    registry, which records no award ids) is never taken to have gone."""
    if own is None:
        return False
    if states(own, "suppliers") and not own.get("suppliers"):
        return True
    if states(own, "status") and own.get("status") not in ("pending", "active"):
        return True
    return states(own, "relatedLots") and lid not in _award_lots(own, s, compiled)


def _contract(
    c: dict[str, Any],
    i: int,
    compiled: dict[str, Any],
    s: ProcessState,
    tid: str,
    today: date,
    parties: dict[str, Any],
    release: dict[str, Any],
    not_recorded: list[NotRecorded] | None,
) -> tuple[str, list[ImportedFact]] | None:
    rid = str(release["id"])
    path = f"contracts[{i}]"
    cid = contract_id_of(compiled["ocid"], str(c.get("id", i)))
    period = c.get("period") or {}
    value = c.get("value") or {}
    eur = value.get("amount") if value.get("currency") == "EUR" else None
    seen = s.contracts.get(cid)
    new = seen is None
    facts: list[ImportedFact] = []
    status = c.get("status")
    if seen is None and status not in ("active", "terminated") and not c.get("dateSigned"):
        return None  # pending: not a contract yet
    # The contract's days, each read once (import40). None: no end stated (none, or
    # 9999-12-31), recorded as running on (import33).
    end, extent = stated_end(period.get("endDate")), stated_end(period.get("maxExtentDate"))
    signed_day, start_day = day(c.get("dateSigned")), day(period.get("startDate"))
    if seen is None:
        awards = [a for a in compiled.get("awards", []) if a.get("id") == c.get("awardID")]
        award = awards[0] if awards else _recorded_award(c, s, parties)
        if award is not None and not awards:  # stated by an earlier run (import25)
            compiled = {**compiled, "awards": [*compiled.get("awards", []), award]}
        if award is None or not award.get("suppliers"):
            raise Unmappable(f"{path}.awardID", "the contract's award (with its suppliers) is"
                             " not in the release; the registry records who the contract is"
                             " with")  # fmt: skip
        lot_ids = _award_lots(award, s, compiled)
        suppliers: dict[str, dict[str, Any]] = {}  # by code: a firm named twice is one
        for j, ref in enumerate(award["suppliers"]):
            a = compiled["awards"].index(award)
            code = supplier_code(ref, parties, f"awards[{a}].suppliers[{j}]")
            name = (parties.get(str(ref.get("id"))) or ref).get("name") or code
            suppliers.setdefault(code, {"supplier_id": code, "name": name, "lot_ids": lot_ids})
        signed = signed_day or today
        facts.append(_fact(rg.ContractSigned, contract_id=cid,
                           kind="framework" if s.framework else "contract", tender_id=tid,
                           lot_ids=lot_ids, contracting_authority=s.authority,
                           suppliers=list(suppliers.values()), signed_on=signed,
                           start_date=start_day or signed,
                           end_date=end or OPEN_END, max_extent_date=extent, value=lift_euro(eur),
                           title=c.get("title") or None,
                           **_unstated(signed_day, start_day, end)))  # fmt: skip
        seen = {"end": end, "extent": extent, "value": eur,
                "status": "active", "signed": signed_day,
                "start": start_day,  # None: not stated (review18a)
                "suppliers": tuple(sorted(suppliers))}  # fmt: skip
    else:
        change: dict[str, Any] = {}
        # A changed end is amended; an end first stated is restated (import33).
        if end is not None and seen["end"] is not None and end != seen["end"]:
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
        restated = _contract_restatement(
            c, seen, release, (signed_day, start_day, end), extent, eur
        )
        if restated:
            facts.append(_fact(rg.ContractRestated, contract_id=cid, restated_on=today,
                               **restated))  # fmt: skip
    if status == "terminated" and seen["status"] != "terminated":
        facts.append(_fact(rg.ContractTerminated, contract_id=cid, terminated_on=today,
                           reason=c.get("statusDetails") or "terminated (published)"))  # fmt: skip
        seen["status"] = "terminated"
    if not_recorded is not None:
        not_recorded += contract_not_recorded(c, path, compiled, parties, seen, s, release, new)
    s.contracts[cid] = dict(seen)
    return (cid, facts) if facts else None


def _unstated(signed: date | None, start: date | None, end: date | None) -> dict[str, bool]:
    """The marks of a signing day, start or end the source does not state (review18a;
    the end: import33), from the contract's days as read (`day`, `stated_end`)."""
    return {**({} if signed else {"signed_on_stated": False}),
            **({} if start else {"start_stated": False}),
            **({} if end else {"end_stated": False})}  # fmt: skip


def _contract_restatement(
    c: dict[str, Any],
    seen: dict[str, Any],
    release: dict[str, Any],
    days: tuple[date | None, date | None, date | None],
    extent: date | None,
    eur: Any,
) -> dict[str, Any]:
    """What a later release says otherwise of a signed contract that `ContractAmended`
    cannot carry (import25): its signing or start day corrected or no longer stated (import30:
    the recorded day stays, marked not stated), its maximum extent or EUR value no longer
    stated. The fields of a `ContractRestated`, and `seen` updated. Only what the release
    itself states counts (import24). An end first stated, or no longer stated (none, or
    9999-12-31: import33; the contract then runs on); a changed end is an amendment."""
    mine = next((x for x in release.get("contracts") or []
                 if isinstance(x, dict) and x.get("id") == c.get("id")), None)  # fmt: skip
    changes: dict[str, Any] = {}
    signed, begins, end = days  # the contract's signing day, start and end, as read
    if states(mine, "dateSigned") and signed != seen["signed"]:
        if signed is None:  # no longer stated: the day stays recorded, not stated (import30)
            changes["signed_on_cleared"] = True
        else:
            changes["signed_on"] = signed
        seen["signed"] = signed
    if states(mine, "period", "startDate") and begins != seen["start"]:
        if begins is None:
            changes["start_cleared"] = True
        else:
            changes["start_date"] = begins
        seen["start"] = begins
    if states(mine, "period", "endDate") and end != seen["end"]:
        if end is None:
            changes["end_cleared"] = True
        else:
            changes["end_date"] = end
        seen["end"] = end
    if states(mine, "period", "maxExtentDate") and extent is None and seen["extent"] is not None:
        changes["max_extent_cleared"], seen["extent"] = True, None
    if states(mine, "value") and eur is None and seen["value"] is not None:
        changes["value_cleared"], seen["value"] = True, None
    return changes
