"""What each registry event means: the published typed folds of programme, tender, contract.

Every read model derives from these folds (or from the typed events), in their vocabulary.
"""

from contracts_schema.registry.state.contract import (
    Amendment,
    ContractKind,
    ContractState,
    ContractStatus,
    ContractSupplierState,
    Extension,
    Transfer,
)
from contracts_schema.registry.state.lot import LotState, LotStatus, ReviewProceedings
from contracts_schema.registry.state.programme import ProgrammeState
from contracts_schema.registry.state.tender import Notice, TenderPhase, TenderState, TenderStatus

__all__ = [
    "Amendment",
    "ContractKind",
    "ContractState",
    "ContractStatus",
    "ContractSupplierState",
    "Extension",
    "LotState",
    "LotStatus",
    "Notice",
    "ProgrammeState",
    "ReviewProceedings",
    "TenderPhase",
    "TenderState",
    "TenderStatus",
    "Transfer",
]
