"""Every read model of the system, in one list: what it is, who owns it, where it lives.

The embedded system runs them, the audit tools verify and rebuild exactly these, and a test
holds each to its declarations (every event type of its contexts handled or ignored on
purpose). A new read model is added here, or nothing sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.temporal import TemporalProjection
from audit.wiring import AUDIT_DATABASE, DEFAULT_DATABASE
from enrolment.registry_facts import RegistryFacts
from eventstore.projection import Projection
from gateway.projections import ALL as GATEWAY_READ_MODELS
from notifier.projection import NotifierSchedule

# The databases read models live in. The gateway's holds its own; the audit's row versions
# are in the audit's (GT_AUDIT_DATABASE_URL; unset: the gateway's, as on PostgreSQL, where row
# locks let both write at once); the enrolment and notifier services each keep theirs beside
# their command side.
READ_MODELS_DB = DEFAULT_DATABASE
AUDIT_DB = AUDIT_DATABASE
ENROLMENT_DB = "enrolment"
NOTIFIER_DB = "notifier"

# Where the embedded system (`make run`) keeps each database under its data directory.
EMBEDDED_FILES = {
    READ_MODELS_DB: "read-models.db",
    AUDIT_DB: "audit.db",  # its own SQLite writer, apart from the gateway's read models
    ENROLMENT_DB: "enrolment.db",
    NOTIFIER_DB: "notifier.db",
}


@dataclass(frozen=True)
class ReadModel:
    kind: type[Projection]
    owner: str  # the package whose code reads it
    database: str  # a key of EMBEDDED_FILES; its URL is configured per deployment

    @property
    def name(self) -> str:
        return self.kind.name

    def __call__(self) -> Projection:
        return self.kind()


READ_MODELS: tuple[ReadModel, ...] = (
    *(ReadModel(kind, "gateway", READ_MODELS_DB) for kind in GATEWAY_READ_MODELS),
    ReadModel(TemporalProjection, "audit", AUDIT_DB),
    ReadModel(RegistryFacts, "enrolment", ENROLMENT_DB),
    ReadModel(NotifierSchedule, "notifier", NOTIFIER_DB),
)


def embedded_databases(data: Path) -> dict[str, str]:
    """The SQLite URL of every read-model database of the embedded system under `data`."""
    return {name: f"sqlite:///{data / file}" for name, file in EMBEDDED_FILES.items()}
