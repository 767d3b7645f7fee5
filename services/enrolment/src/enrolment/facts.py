"""Facts loaders: what a decision needs from outside its own aggregate, read beforehand.

Registry facts (a tender's lots, a framework's suppliers) come the one way every
cross-context fact comes: the registry's aggregate loaded through the event store port and
folded with the registry's published fold, so they are as current as the store (read your
writes across services) and a test satisfies them with the in-memory store. Enrolment facts
(organisations, other windows, mergers) come from this context's own aggregates.
"""

from __future__ import annotations

from datetime import date

from contracts_schema.enrolment.events import MunicipalityMerged
from contracts_schema.enrolment.state import EnrolmentWindowState, OrganisationState
from contracts_schema.folds import FOLDS, Fold
from contracts_schema.registry.state import ContractState, TenderState
from contracts_schema.subjects import ENROLMENT
from contracts_schema.upcasting import decode_envelope
from enrolment.domain.call_off import Framework
from enrolment.domain.enrolment_window import TenderFacts
from eventstore.folded import load_folded
from eventstore.ports import EventStorePort
from eventstore.trust import trust_of

TENDER: Fold[TenderState] = FOLDS[("registry", "tender")]
CONTRACT: Fold[ContractState] = FOLDS[("registry", "contract")]
ORGANISATION: Fold[OrganisationState] = FOLDS[("enrolment", "organisation")]
WINDOW: Fold[EnrolmentWindowState] = FOLDS[("enrolment", "enrolment_window")]


def tender_facts(state: TenderState) -> TenderFacts | None:
    if not state.exists:
        return None
    return TenderFacts(state.tender_id, frozenset(state.lot_ids), state.published_on)


def framework_facts(state: ContractState) -> Framework | None:
    if state.kind is None or state.start_date is None or state.end_date is None:
        return None  # never signed
    suppliers: dict[str, set[str]] = {}
    for supplier in state.suppliers:
        for lot_id in supplier.lot_ids or state.lot_ids:
            suppliers.setdefault(lot_id, set()).add(supplier.supplier_id)
    return Framework(
        contract_id=state.contract_id,
        kind=state.kind.value,
        tender_id=state.tender_id,
        suppliers_by_lot={lot: frozenset(ids) for lot, ids in suppliers.items()},
        start_date=state.start_date,
        end_date=state.end_date,
        terminated_on=state.terminated_on,
    )


class Facts:
    """Other aggregates as a decision reads them: `as_of`, the day the command's fact is
    valid on (`valid_day`), reads each as it was then (`eventstore.folded.load_folded`)."""

    def __init__(self, store: EventStorePort) -> None:
        self._store = store

    @property
    def store(self) -> EventStorePort:
        return self._store

    async def tender(self, tender_id: str, as_of: date | None = None) -> TenderFacts | None:
        return tender_facts(await load_folded(self._store, TENDER, tender_id, as_of))

    async def framework(self, contract_id: str, as_of: date | None = None) -> Framework | None:
        return framework_facts(await load_folded(self._store, CONTRACT, contract_id, as_of))

    async def contract_signed(self, contract_id: str) -> bool:
        # Ids are taken for good: whenever the other contract was signed.
        return (await load_folded(self._store, CONTRACT, contract_id)).exists

    async def organisation(self, code: str) -> OrganisationState:
        # All its facts: a merger counts from the day it took effect, which its deciders
        # compare (`organisation.require_active_on`), not from the day it was recorded as.
        return await load_folded(self._store, ORGANISATION, code)

    async def window(self, tender_id: str, as_of: date | None = None) -> EnrolmentWindowState:
        return await load_folded(self._store, WINDOW, tender_id, as_of)

    async def successors(self, as_of: date | None = None) -> dict[str, str]:
        """Merged municipality -> its successor (mergers are few: read them all), those in
        effect by `as_of` (all when None). A merger counts from the day it took effect
        (`effective_on`), often recorded long after it."""
        merged = ENROLMENT.event_subject("organisation", "*", MunicipalityMerged.event_type)
        successors: dict[str, str] = {}
        trust = trust_of(getattr(self._store, "nc", None))
        async for e in self._store.read_stream(ENROLMENT, 1, merged):
            if trust.stored_problem(e) is not None:
                continue  # a merger no reader takes as fact (forged, altered) moves nothing
            fact = decode_envelope(e.envelope)
            if isinstance(fact, MunicipalityMerged):
                if as_of is not None and fact.effective_on > as_of:
                    continue  # merged after the day asked about
                successors[fact.code] = fact.successor_code
        return successors
