"""Facts imported from published OCDS data: recorded as they happened, not decided.

The facts are the registry's own events; they must apply to the aggregate's history (its
fold accepts them), but no rule refuses them. Every rule the registry would have applied is
evaluated instead, and what it refuses becomes a finding, recorded with the provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from typing import Any

from pydantic import ValidationError

from contracts_schema.base import DomainEvent
from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.errors import FoldError, RuleViolation
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.import_events import (
    ContractReleaseImported,
    LawFinding,
    TenderReleaseImported,
)
from contracts_schema.registry.state import ContractState, TenderState, contract, tender
from contracts_schema.registry.values import NAMED_ONLY_PREFIX, NAMED_SUPPLIER_PREFIX
from contracts_schema.upcasting import decode
from registry.domain.award_decide import require_standstill_over, review_pending
from registry.domain.facts import SigningFacts
from registry.domain.rules import DecisionInput, standstill_ends_on
from registry.domain.signing import check_award, check_period

# A rule raises RuleViolation; each rule of a fact is evaluated on its own.
Check = Callable[[Any, DomainEvent, object], list[Callable[[], None]]]


def _facts(
    command: cmd.RecordImportedTenderRelease | cmd.RecordImportedContractRelease,
    aggregate_type: str,
    key: str,
    aggregate_id: str,
) -> list[DomainEvent]:
    events = []
    for i, fact in enumerate(command.facts):
        model = EVENT_TYPES.get(fact.event_type)
        if model is None or model.context != "registry" or model.aggregate_type != aggregate_type:
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE",
                f"facts[{i}]: {fact.event_type} is not an event of the registry's"
                f" {aggregate_type} aggregate",
            )
        if model in (TenderReleaseImported, ContractReleaseImported):
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE", f"facts[{i}]: provenance is recorded by the registry"
            )
        try:
            # A fact in the current version, read as every event is read.
            event = decode(fact.event_type, model.schema_version, fact.payload)
        except ValidationError as exc:
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE", f"facts[{i}] ({fact.event_type}): {exc}"
            ) from exc
        if getattr(event, key) != aggregate_id:
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE",
                f"facts[{i}] ({fact.event_type}) is about {key} {getattr(event, key)},"
                f" not {aggregate_id}",
            )
        events.append(event)
    return events


def _record(
    state: Any,
    events: list[DomainEvent],
    evolve: Callable[[Any, DomainEvent], Any],
    check: Check,
    facts: object,
) -> tuple[Any, list[LawFinding]]:
    findings: list[LawFinding] = []
    for i, event in enumerate(events):
        for rule in check(state, event, facts):
            try:
                rule()
            except RuleViolation as found:
                subject = _of(event)
                findings.append(LawFinding(code=found.code, message=found.message, subject=subject))
        if (
            isinstance(event, ev.TenderPlanRevised)
            and state.exists
            and (state.status is not tender.TenderStatus.PLANNED)
        ):
            # A plan is revised only while it is one (review16c: a published or cancelled
            # tender took a new plan start without a word).
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE",
                f"facts[{i}]: TenderPlanRevised cannot apply to tender {state.tender_id}: it is"
                f" {state.status.value}, no longer planned",
            )
        if isinstance(event, ev.TenderPlanned) and state.exists:
            # The fold takes the same planning again (a planning dated back); an imported
            # release is recorded, not decided: it never plans a tender twice.
            raise RuleViolation(
                "IMPORT_NOT_APPLICABLE",
                f"facts[{i}]: TenderPlanned cannot apply to tender {state.tender_id}: the"
                " tender was already planned",
            )
        try:
            state = evolve(state, event)
        except FoldError as exc:
            raise RuleViolation("IMPORT_NOT_APPLICABLE", f"facts[{i}]: {exc}") from exc
    return state, findings


def _of(event: DomainEvent) -> str | None:
    for key in ("lot_id", "contract_id", "tender_id"):
        if hasattr(event, key):
            return str(getattr(event, key))
    return None


def _tender_rules(
    state: TenderState, event: DomainEvent, facts: object
) -> list[Callable[[], None]]:
    return [lambda: _check_tender(state, event), lambda: _check_suppliers(event)]


def _check_suppliers(event: DomainEvent) -> None:
    """SUPPLIER_UNIDENTIFIED (import35, #17): suppliers an award first names, or a contract
    is signed with, that were published without an identifier the registry records (a name
    only, or a local scheme): recorded under a code derived from the name within the
    publisher's scope (`named_supplier_code`); a name is no stable code (DOMAIN.md)."""
    if isinstance(event, ev.ProvisionalAwardDecided):
        where, named = f"the award of lot {event.lot_id}", event.supplier_ids
    elif isinstance(event, ev.ProvisionalAwardRevised):
        where = f"the revised award of lot {event.lot_id}"
        named = [x for x in event.supplier_ids if x not in event.previous_supplier_ids]
    elif isinstance(event, ev.ContractSigned):
        names = {s.supplier_id: s.name for s in event.suppliers}
        where = f"contract {event.contract_id}"
        named = [f"{code} ({names[code]!r})" for code in names if _unidentified(code)]
    else:
        return
    unidentified = [x for x in named if _unidentified(x)]
    if unidentified:
        raise RuleViolation(
            "SUPPLIER_UNIDENTIFIED",
            f"{where} names suppliers published without an identifier the registry records"
            " (KvK, OIN or org-id.guide; a name only, or a local scheme): recorded under"
            f" codes derived from their names within the publisher's scope:"
            f" {', '.join(unidentified)}",
        )


def _unidentified(code: str) -> bool:
    return code.startswith(NAMED_SUPPLIER_PREFIX)


def _check_tender(state: TenderState, event: DomainEvent) -> None:
    if isinstance(event, ev.TenderPlanned) and event.contracting_authority.startswith(
        NAMED_ONLY_PREFIX
    ):
        # DOMAIN.md: organisations are identified by a stable code (KvK, OIN, CBS); a name is
        # not one (two bodies may share it, one body may be renamed).
        name = event.contracting_authority_name
        raise RuleViolation(
            "CONTRACTING_AUTHORITY_UNIDENTIFIED",
            f"tender {event.tender_id}'s contracting authority was published by name only"
            f"{f' ({name!r})' if name else ''},"
            " without an identifier (KvK, OIN, CBS code or org-id.guide); recorded under"
            f" {event.contracting_authority}, derived from that name",
        )
    if isinstance(event, ev.ProvisionalAwardDecided | ev.ProvisionalAwardRevised):
        legal = standstill_ends_on(event.decision_sent_on)
        if event.standstill_ends_on < legal:
            days = (event.standstill_ends_on - event.decision_sent_on).days
            raise RuleViolation(
                "STANDSTILL_TOO_SHORT",
                f"the award decision on lot {event.lot_id} of tender {event.tender_id} sent on"
                f" {event.decision_sent_on} gives a standstill period of {days} days (until"
                f" {event.standstill_ends_on}); Aanbestedingswet 2012 art. 2.127 requires at"
                f" least 20 calendar days (until {legal})",
            )
    if isinstance(event, ev.AwardMadeDefinitive):
        lot = state.lot(event.lot_id)
        if lot is not None and lot.review_pending:
            raise review_pending(state.tender_id, lot)


def _contract_rules(
    state: ContractState, event: DomainEvent, facts: object
) -> list[Callable[[], None]]:
    if isinstance(event, ev.ContractRestated) and state.exists:
        return _restated_rules(state, event, facts)
    if not isinstance(event, ev.ContractSigned):
        return []
    # The same rules SignContract applies, on the same fields; a day the source did not state
    # is not judged as if stated (review18a): an unstated start skips the period's rule
    # (INVALID_PERIOD, FRAMEWORK_RATIONALE_REQUIRED), an unstated signing day the standstill's
    # (STANDSTILL_NOT_ENDED: judged as after it), the award's other rules still apply.
    signing = cmd.SignContract.model_construct(**dict(event))
    tender = facts.tender if isinstance(facts, SigningFacts) else None
    rules: list[Callable[[], None]] = [partial(_check_suppliers, event)]
    if event.start_stated:
        rules.append(partial(_check_period, signing, event.end_stated))
    on = event.signed_on if event.signed_on_stated else date.max
    if event.tender_id is not None and event.kind != "negotiated_terms":
        rules.append(lambda: check_award(signing, tender, on))
    return rules


SIGNED = "a contract is signed"


def _check_period(signing: cmd.SignContract, end_stated: bool) -> None:
    """The period's rule on what the source states (import33): an end not stated (none, or
    9999-12-31) is no end to judge -- its recorded day, 2100-12-31, would make every
    framework "longer than 4 years" (FRAMEWORK_RATIONALE_REQUIRED on an invented date). The
    rule is then judged on the maximum extent, when one is stated (a start after it is
    INVALID_PERIOD; a framework reaching past 4 years by it needs its rationale), and not at
    all without one."""
    if end_stated:
        check_period(signing)
    elif signing.max_extent_date is not None:
        check_period(signing.model_copy(update={"end_date": signing.max_extent_date}))


def _restated_rules(
    state: ContractState, event: ev.ContractRestated, facts: object
) -> list[Callable[[], None]]:
    """The rules a restated day changes, judged again on the contract as restated: the
    period's for a start (import25), the standstill's for a signing day (review18a: a day
    restated into the standstill was no finding). The contract fold lets these findings replace the
    ones the former day gave (`state.contract.RESTATED_RULES`)."""
    extent = None if event.max_extent_cleared else state.max_extent_date
    fields: dict[str, Any] = {
        "contract_id": state.contract_id, "kind": state.kind, "tender_id": state.tender_id,
        "lot_ids": list(state.lot_ids), "suppliers": list(state.suppliers),
        "start_date": event.start_date or state.start_date, "end_date": state.end_date,
        "max_extent_date": extent, "duration_rationale": state.duration_rationale,
    }  # fmt: skip
    end_stated = (state.end_stated or event.end_date is not None) and not event.end_cleared
    if event.end_date is not None:
        fields["end_date"] = event.end_date
    restated = cmd.SignContract.model_construct(**fields)
    rules: list[Callable[[], None]] = []
    # The period's rule again for a start restated, or an end first stated or no longer
    # stated (import33); on an unstated start it is not judged (review18a).
    start_stated = (state.start_stated or event.start_date is not None) and not event.start_cleared
    period = event.start_date is not None or event.end_date is not None or event.end_cleared
    if period and start_stated:
        rules.append(partial(_check_period, restated, end_stated))
    on = event.signed_on
    tender = facts.tender if isinstance(facts, SigningFacts) else None
    if on is not None and tender is not None and tender.exists and state.kind != "negotiated_terms":
        # Of the award's rules only the standstill depends on the signing day; the others
        # (review, definitive award, suppliers) were judged at signing and stay as found
        # (review18b: judging them again on today's tender dropped findings that still apply).
        lots = [lot for lot in map(tender.lot, state.lot_ids) if lot is not None]
        rules.extend(
            partial(require_standstill_over, tender.tender_id, lot, on, SIGNED) for lot in lots
        )
    return rules


def decide_imported_tender(
    state: TenderState, command: cmd.RecordImportedTenderRelease, ctx: DecisionInput
) -> Sequence[DomainEvent]:
    return record_imported_tender(state, command, ctx)[0]


def decide_imported_contract(
    state: ContractState, command: cmd.RecordImportedContractRelease, ctx: DecisionInput
) -> Sequence[DomainEvent]:
    return record_imported_contract(state, command, ctx)[0]


# The decisions with the facts as folded for the findings (the provenance not yet folded):
# a bulk writer folds the provenance onto that instead of folding every fact again.


def record_imported_tender(
    state: TenderState, command: cmd.RecordImportedTenderRelease, ctx: DecisionInput
) -> tuple[list[DomainEvent], TenderState]:
    events = _facts(command, "tender", "tender_id", command.tender_id)
    base = state if state.exists else tender.initial(command.tender_id)
    folded, findings = _record(base, events, tender.evolve, _tender_rules, ctx.facts)
    provenance = TenderReleaseImported(
        tender_id=command.tender_id, **_provenance(command), findings=findings
    )
    return [*events, provenance], folded


def record_imported_contract(
    state: ContractState, command: cmd.RecordImportedContractRelease, ctx: DecisionInput
) -> tuple[list[DomainEvent], ContractState]:
    events = _facts(command, "contract", "contract_id", command.contract_id)
    base = state if state.exists else contract.initial(command.contract_id)
    folded, findings = _record(base, events, contract.evolve, _contract_rules, ctx.facts)
    provenance = ContractReleaseImported(
        contract_id=command.contract_id, **_provenance(command), findings=findings
    )
    return [*events, provenance], folded


def _provenance(
    command: cmd.RecordImportedTenderRelease | cmd.RecordImportedContractRelease,
) -> dict[str, Any]:
    return {
        "ocid": command.ocid,
        "release_id": command.release_id,
        "release_date": command.release_date,
        "publisher": command.publisher,
        "package_uri": command.package_uri,
    }
