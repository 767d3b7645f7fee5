"""The registry's command routes: which aggregate each command goes to, explicitly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from contracts_schema.base import DomainEvent
from contracts_schema.references import WithOrganisations, checking_organisations
from contracts_schema.registry import EVENTS
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.state import contract, programme, tender
from contracts_schema.subjects import REGISTRY
from eventstore.commands import CommandRoute, Decider
from eventstore.folded import with_organisations
from eventstore.ports import EventStorePort
from registry.domain.contract_decide import decide_contract
from registry.domain.imported import decide_imported_contract, decide_imported_tender
from registry.domain.programme import decide_programme
from registry.domain.tender_decide import decide_tender
from registry.facts_loaders import (
    call_off_of_id_loader,
    frozen_list_loader,
    imported_signing_facts_loader,
    programme_loader,
    signing_facts_loader,
    successor_programme_loader,
    successor_tender_loader,
)

# The state before an aggregate's first event; decisions take the id from the command.
PROGRAMME = Decider(REGISTRY, "programme", programme.initial(""), programme.evolve)
TENDER = Decider(REGISTRY, "tender", tender.initial(""), tender.evolve)
CONTRACT = Decider(REGISTRY, "contract", contract.initial(""), contract.evolve)

REGISTRY_EVENT_TYPES: dict[str, type[DomainEvent]] = {e.event_type: e for e in EVENTS}


def build_routes(store: EventStorePort) -> list[CommandRoute[Any, Any]]:
    def programme_id(c: cmd.PlanProgramme | cmd.LinkSuccessorProgramme) -> str:
        return c.programme_id

    def tender_id(c: cmd.TenderCommand) -> str:
        return c.tender_id

    def contract_id(c: cmd.ContractCommand) -> str:
        return c.contract_id

    # Every decision first requires the organisations its command names to be registered.
    programme = checking_organisations(decide_programme)
    tender = checking_organisations(decide_tender)
    contract = checking_organisations(decide_contract)
    facts: Callable[[Any], Awaitable[WithOrganisations]] = with_organisations(store)
    routes: list[CommandRoute[Any, Any]] = [
        CommandRoute(cmd.PlanProgramme, PROGRAMME, programme_id, programme, facts),
        CommandRoute(
            cmd.LinkSuccessorProgramme,
            PROGRAMME,
            programme_id,
            programme,
            facts=with_organisations(store, successor_programme_loader(store)),
        ),
        CommandRoute(
            cmd.LinkSuccessorTender,
            TENDER,
            tender_id,
            tender,
            facts=with_organisations(store, successor_tender_loader(store)),
        ),
        CommandRoute(
            cmd.PublishTender,
            TENDER,
            tender_id,
            tender,
            facts=with_organisations(store, frozen_list_loader(store)),
        ),
        CommandRoute(
            cmd.PlanTender,
            TENDER,
            tender_id,
            tender,
            facts=with_organisations(store, programme_loader(store)),
        ),
        CommandRoute(
            cmd.SignContract,
            CONTRACT,
            contract_id,
            contract,
            facts=with_organisations(store, signing_facts_loader(store)),
        ),
    ]
    for tender_command in (
        cmd.PublishPriorInformationNotice,
        cmd.HoldMarketConsultation,
        cmd.CorrectTender,
        cmd.ClarifyTender,
        cmd.PauseTender,
        cmd.ResumeTender,
        cmd.CancelLot,
        cmd.CancelTender,
        cmd.RecordBids,
        cmd.DecideProvisionalAward,
        cmd.ReviseProvisionalAward,
        cmd.WithdrawProvisionalAward,
        cmd.StartReviewProceedings,
        cmd.ConcludeReviewProceedings,
        cmd.RecordStandstillEnded,
        cmd.MakeAwardDefinitive,
    ):
        routes.append(CommandRoute(tender_command, TENDER, tender_id, tender, facts))
    routes.append(
        CommandRoute(
            cmd.TransferContract,
            CONTRACT,
            contract_id,
            contract,
            facts=with_organisations(store, call_off_of_id_loader(store)),
        )
    )
    for contract_command in (
        cmd.AmendContract,
        cmd.ExtendContract,
        cmd.TerminateContract,
        cmd.ExpireContract,
    ):
        routes.append(CommandRoute(contract_command, CONTRACT, contract_id, contract, facts))
    # Imported facts are recorded, not decided: no organisation need be registered first.
    routes += [
        CommandRoute(cmd.RecordImportedTenderRelease, TENDER, tender_id, decide_imported_tender),
        CommandRoute(
            cmd.RecordImportedContractRelease,
            CONTRACT,
            contract_id,
            decide_imported_contract,
            facts=imported_signing_facts_loader(store),
        ),
    ]
    return routes
