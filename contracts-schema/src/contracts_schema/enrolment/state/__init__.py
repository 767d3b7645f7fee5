"""What each enrolment event means: the published typed folds of organisation, enrolment
window and call-off. Every read model derives from these folds, in their vocabulary.
"""

from contracts_schema.enrolment.state.call_off import CallOffState
from contracts_schema.enrolment.state.enrolment_window import (
    EnrolmentWindowState,
    ParticipantState,
    ParticipantStatus,
)
from contracts_schema.enrolment.state.organisation import OrganisationState

__all__ = [
    "CallOffState",
    "EnrolmentWindowState",
    "OrganisationState",
    "ParticipantState",
    "ParticipantStatus",
]
