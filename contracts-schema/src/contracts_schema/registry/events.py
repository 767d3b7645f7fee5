"""Domain events of the registry context."""

from __future__ import annotations

from contracts_schema.base import DomainEvent
from contracts_schema.registry.award_events import (
    AWARD_EVENTS,
    AwardMadeDefinitive,
    BidsRecorded,
    ProvisionalAwardDecided,
    ProvisionalAwardRevised,
    ProvisionalAwardWithdrawn,
    ReviewProceedingsConcluded,
    ReviewProceedingsStarted,
    StandstillEnded,
)
from contracts_schema.registry.contract_events import (
    CONTRACT_EVENTS,
    ContractAmended,
    ContractExpired,
    ContractExtended,
    ContractRestated,
    ContractSigned,
    ContractTerminated,
    ContractTransferred,
)
from contracts_schema.registry.import_events import (
    IMPORT_EVENTS,
    ContractReleaseImported,
    TenderReleaseImported,
)
from contracts_schema.registry.programme_events import (
    PROGRAMME_EVENTS,
    ProgrammePlanned,
    SuccessorProgrammeLinked,
)
from contracts_schema.registry.tender_events import (
    TENDER_EVENTS,
    LotCancelled,
    MarketConsultationHeld,
    PriorInformationNoticePublished,
    SuccessorTenderLinked,
    TenderCancelled,
    TenderClarified,
    TenderCorrected,
    TenderEvent,
    TenderPaused,
    TenderPlanned,
    TenderPlanRevised,
    TenderPublished,
    TenderRestated,
    TenderResumed,
)

EVENTS: tuple[type[DomainEvent], ...] = (
    *PROGRAMME_EVENTS,
    *TENDER_EVENTS,
    *AWARD_EVENTS,
    *CONTRACT_EVENTS,
    *IMPORT_EVENTS,
)

__all__ = [
    "EVENTS",
    "AwardMadeDefinitive",
    "BidsRecorded",
    "ContractAmended",
    "ContractExpired",
    "ContractExtended",
    "ContractReleaseImported",
    "ContractRestated",
    "ContractSigned",
    "ContractTerminated",
    "ContractTransferred",
    "LotCancelled",
    "MarketConsultationHeld",
    "PriorInformationNoticePublished",
    "ProgrammePlanned",
    "ProvisionalAwardDecided",
    "ProvisionalAwardRevised",
    "ProvisionalAwardWithdrawn",
    "ReviewProceedingsConcluded",
    "ReviewProceedingsStarted",
    "StandstillEnded",
    "SuccessorProgrammeLinked",
    "SuccessorTenderLinked",
    "TenderCancelled",
    "TenderClarified",
    "TenderCorrected",
    "TenderEvent",
    "TenderPaused",
    "TenderPlanRevised",
    "TenderPlanned",
    "TenderPublished",
    "TenderReleaseImported",
    "TenderRestated",
    "TenderResumed",
]
