"""Commands of the registry context."""

from __future__ import annotations

from contracts_schema.base import Command
from contracts_schema.registry.award_commands import (
    AWARD_COMMANDS,
    ConcludeReviewProceedings,
    DecideProvisionalAward,
    LotCommand,
    MakeAwardDefinitive,
    RecordBids,
    RecordStandstillEnded,
    ReviseProvisionalAward,
    StartReviewProceedings,
    WithdrawProvisionalAward,
)
from contracts_schema.registry.contract_commands import (
    CONTRACT_COMMANDS,
    AmendContract,
    ContractCommand,
    ExpireContract,
    ExtendContract,
    SignContract,
    TerminateContract,
    TransferContract,
)
from contracts_schema.registry.import_commands import (
    IMPORT_COMMANDS,
    ImportedFact,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.registry.tender_commands import (
    TENDER_COMMANDS,
    CancelLot,
    CancelTender,
    ClarifyTender,
    CorrectTender,
    HoldMarketConsultation,
    LinkSuccessorProgramme,
    LinkSuccessorTender,
    PauseTender,
    PlanProgramme,
    PlanTender,
    PublishPriorInformationNotice,
    PublishTender,
    ResumeTender,
    TenderCommand,
)

COMMANDS: tuple[type[Command], ...] = (
    *TENDER_COMMANDS,
    *AWARD_COMMANDS,
    *CONTRACT_COMMANDS,
    *IMPORT_COMMANDS,
)

__all__ = [
    "COMMANDS",
    "AmendContract",
    "CancelLot",
    "CancelTender",
    "ClarifyTender",
    "ConcludeReviewProceedings",
    "ContractCommand",
    "CorrectTender",
    "DecideProvisionalAward",
    "ExpireContract",
    "ExtendContract",
    "HoldMarketConsultation",
    "ImportedFact",
    "LinkSuccessorProgramme",
    "LinkSuccessorTender",
    "LotCommand",
    "MakeAwardDefinitive",
    "PauseTender",
    "PlanProgramme",
    "PlanTender",
    "PublishPriorInformationNotice",
    "PublishTender",
    "RecordBids",
    "RecordImportedContractRelease",
    "RecordImportedTenderRelease",
    "RecordStandstillEnded",
    "ResumeTender",
    "ReviseProvisionalAward",
    "SignContract",
    "StartReviewProceedings",
    "TenderCommand",
    "TerminateContract",
    "TransferContract",
    "WithdrawProvisionalAward",
]
