"""The gateway's read models: one module per read model, each a `Projection`.

`ALL` lists them explicitly; the embedded system and the tests run exactly these.
"""

from __future__ import annotations

from gateway.projections.contracts import ContractsProjection
from gateway.projections.enrolment import EnrolmentProjection
from gateway.projections.event_counts import EventCountsProjection  # asof11: the log's counts
from gateway.projections.event_log import EventLogProjection
from gateway.projections.organisations import OrganisationsProjection
from gateway.projections.tenders import TendersProjection

ALL = (
    EventLogProjection,
    OrganisationsProjection,
    TendersProjection,
    ContractsProjection,
    EnrolmentProjection,
    EventCountsProjection,  # asof11: the event log's count at a past horizon
)

__all__ = [
    "ALL",
    "ContractsProjection",
    "EnrolmentProjection",
    "EventCountsProjection",
    "EventLogProjection",
    "OrganisationsProjection",
    "TendersProjection",
]
