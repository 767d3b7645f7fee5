"""Read-only loaders for facts a decision needs from outside its aggregate.

Each reads the owner's aggregate through the event store port, folded with the owner's
published fold (`eventstore.folded`), so a test can satisfy it with the in-memory store. A
signature reads its tender as it was on the signature's day (`valid_day`), as every view
shows that day (a lot cancelled after it does not undo it); imported releases are recorded
as published, not decided: their findings read the tender with all its facts, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from contracts_schema.enrolment.state import CallOffState, EnrolmentWindowState
from contracts_schema.folds import FOLDS, Fold
from contracts_schema.registry.commands import (
    LinkSuccessorProgramme,
    LinkSuccessorTender,
    PlanTender,
    PublishTender,
    RecordImportedContractRelease,
    SignContract,
    TransferContract,
)
from contracts_schema.registry.state import ContractState, ProgrammeState, TenderState
from contracts_schema.subjects import REGISTRY
from eventstore.folded import load_folded, valid_day
from eventstore.group_append import StagedStore
from eventstore.ports import EventStorePort
from registry.domain.facts import (
    CallOffOfId,
    FrozenParticipantList,
    KnownSuccessor,
    NamedProgramme,
    SigningFacts,
)

WINDOW: Fold[EnrolmentWindowState] = FOLDS[("enrolment", "enrolment_window")]
TENDER: Fold[TenderState] = FOLDS[("registry", "tender")]
CALL_OFF: Fold[CallOffState] = FOLDS[("enrolment", "call_off")]
PROGRAMME: Fold[ProgrammeState] = FOLDS[("registry", "programme")]
CONTRACT: Fold[ContractState] = FOLDS[("registry", "contract")]


def frozen_list_loader(
    store: EventStorePort,
) -> Callable[[PublishTender], Awaitable[FrozenParticipantList | None]]:
    async def load(command: PublishTender) -> FrozenParticipantList | None:
        # The enrolment service owns the list; the registry only reads its aggregate.
        # As of now: the decision compares the freeze's day with the publication's itself
        # (PARTICIPANT_LIST_NOT_FROZEN names both days), and nobody enrols after a freeze.
        window = await load_folded(store, WINDOW, command.tender_id)
        if window.frozen_on is None:
            return None
        return FrozenParticipantList(
            tender_id=command.tender_id,
            frozen_on=window.frozen_on,
            participant_codes=tuple(sorted(window.enrolled)),
        )

    return load


def programme_loader(
    store: EventStorePort,
) -> Callable[[PlanTender], Awaitable[NamedProgramme | None]]:
    async def load(command: PlanTender) -> NamedProgramme | None:
        if command.programme_id is None:
            return None
        programme = await load_folded(store, PROGRAMME, command.programme_id)
        return NamedProgramme(command.programme_id, programme.exists)

    return load


def successor_programme_loader(
    store: EventStorePort,
) -> Callable[[LinkSuccessorProgramme], Awaitable[KnownSuccessor]]:
    async def load(command: LinkSuccessorProgramme) -> KnownSuccessor:
        successor = await load_folded(store, PROGRAMME, command.successor_programme_id)
        return KnownSuccessor(command.successor_programme_id, successor.exists)

    return load


def successor_tender_loader(
    store: EventStorePort,
) -> Callable[[LinkSuccessorTender], Awaitable[KnownSuccessor]]:
    async def load(command: LinkSuccessorTender) -> KnownSuccessor:
        successor = await load_folded(store, TENDER, command.successor_tender_id)
        return KnownSuccessor(command.successor_tender_id, successor.exists)

    return load


def signing_facts_loader(
    store: EventStorePort,
) -> Callable[[SignContract], Awaitable[SigningFacts]]:
    async def load(command: SignContract) -> SigningFacts:
        facts = SigningFacts()
        if (tid := command.tender_id) is not None:
            tender = await load_folded(store, TENDER, tid, valid_day(command))
            facts = replace(facts, tender=tender)
        # Contracts and call-offs share one id space (a call-off is a contract under its id).
        call_off = await load_folded(store, CALL_OFF, command.contract_id)
        return replace(facts, call_off_id_taken=call_off.exists)

    return load


def imported_signing_facts_loader(
    store: EventStorePort,
) -> Callable[[RecordImportedContractRelease], Awaitable[SigningFacts]]:
    """The tender an imported signature names, for the findings of the signing rules. In a
    group commit the tender is usually staged with it and held folded by the deciding twin:
    taken from there (the same fold of the same events) instead of folded again from its
    decoded events on each contract command."""

    async def load(command: RecordImportedContractRelease) -> SigningFacts:
        for fact in command.facts:
            tid = fact.payload.get("tender_id") if fact.event_type == "ContractSigned" else None
            if isinstance(tid, str):
                return SigningFacts(tender=await _tender(store, tid))
        if any(
            f.event_type == "ContractRestated" and f.payload.get("signed_on") is not None
            for f in command.facts
        ):
            # A signing day restated (review18a): judged again by the award's rules, on the
            # tender the contract was recorded from.
            signed: ContractState = await load_folded(store, CONTRACT, command.contract_id)
            if signed.exists and signed.tender_id is not None:
                return SigningFacts(tender=await _tender(store, signed.tender_id))
        return SigningFacts()

    return load


async def _tender(store: EventStorePort, tender_id: str) -> TenderState:
    staged = store.state(REGISTRY, "tender", tender_id) if isinstance(store, StagedStore) else None
    # The decider folds from `initial("")`; the creation event sets the id.
    if isinstance(staged, TenderState) and staged.exists and staged.tender_id == tender_id:
        return staged
    tender: TenderState = await load_folded(store, TENDER, tender_id)
    return tender


def call_off_of_id_loader(
    store: EventStorePort,
) -> Callable[[TransferContract], Awaitable[CallOffOfId | None]]:
    """The call-off under the contract id a transfer names, if the enrolment service holds
    one (read only for transfers, which are few: the refusal names what the id is)."""

    async def load(command: TransferContract) -> CallOffOfId | None:
        return await call_off_of_id(store, command.contract_id)

    return load


async def call_off_of_id(store: EventStorePort, contract_id: str) -> CallOffOfId | None:
    call_off = await load_folded(store, CALL_OFF, contract_id)
    if not call_off.exists:
        return None
    return CallOffOfId(contract_id, call_off.framework_contract_id, call_off.participant_code)
