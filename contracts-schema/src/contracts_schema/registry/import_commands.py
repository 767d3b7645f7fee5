"""Record facts imported from published OCDS data: recorded as they happened, not decided.

The importer (`audit ocds import`) maps a release to the registry's own event types; the
registry appends them unchanged (its fold must accept them), evaluates its rules on them for
findings instead of refusals, and records the provenance. The command id is derived from the
ocid and release id, so the same release imported twice is stored once.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from contracts_schema.base import AwareDatetime, Command, Value
from contracts_schema.registry.contract_commands import ContractCommand
from contracts_schema.registry.tender_commands import TenderCommand
from contracts_schema.replies import CommandAccepted, CommandRejected


class ImportedFact(Value):
    """One fact of the source release, as a registry event (type and payload)."""

    event_type: str = Field(min_length=1, max_length=80, description="Registry event type.")
    payload: dict[str, Any] = Field(description="The event body, per that type's JSON Schema.")


class _RecordImported(Value):
    # Published facts are dated by their release; an import is not a decision made now.
    future_valid_time_allowed: ClassVar[bool] = False

    ocid: str = Field(min_length=1, max_length=200, description="Source Open Contracting ID.")
    release_id: str = Field(min_length=1, max_length=200, description="Source release id.")
    release_date: AwareDatetime = Field(description="Source release date (the valid time).")
    publisher: str = Field(min_length=1, max_length=300, description="Source publisher's name.")
    package_uri: str | None = Field(default=None, max_length=2000, description="Package URI.")
    facts: list[ImportedFact] = Field(max_length=500, description="The mapped facts, in order.")


class RecordImportedTenderRelease(TenderCommand, _RecordImported):
    """Record a published release's facts about a tender and its lots."""

    decided_by_valid_time: ClassVar[bool] = False  # recorded as published, not decided


class RecordImportedContractRelease(ContractCommand, _RecordImported):
    """Record a published release's facts about one contract."""

    decided_by_valid_time: ClassVar[bool] = False  # recorded as published, not decided


class ImportedRelease(Value):
    """One source release: its tender command, then a command per contract it changed."""

    release_id: str = Field(min_length=1, max_length=200, description="Source release id.")
    tender: RecordImportedTenderRelease = Field(description="The release's tender facts.")
    contracts: list[RecordImportedContractRelease] = Field(
        default_factory=list, description="The release's facts per contract."
    )


class ImportProcessReleases(Command):
    """Record several releases of one process (ocid) in one message, in valid time order.

    Each release's commands are executed as if sent one after the other (each keeps its own
    command id, valid time and provenance, so a re-run is answered as a duplicate); the
    first release refused ends the batch, since the later ones were mapped on top of it.
    """

    context: ClassVar[str] = "registry"
    future_valid_time_allowed: ClassVar[bool] = False

    ocid: str = Field(min_length=1, max_length=200, description="Source Open Contracting ID.")
    releases: list[ImportedRelease] = Field(
        min_length=1, max_length=200, description="The process's releases, in valid time order."
    )

    @model_validator(mode="after")
    def _one_process(self) -> ImportProcessReleases:
        for i, release in enumerate(self.releases):
            commands: list[_RecordImported] = [release.tender, *release.contracts]
            for command in commands:
                if command.ocid != self.ocid or command.release_id != release.release_id:
                    raise ValueError(
                        f"releases[{i}]: its commands record release {command.release_id!r} of"
                        f" {command.ocid!r}, not release {release.release_id!r} of {self.ocid!r}"
                    )
        return self


class ImportedReleaseOutcome(Value):
    """What the registry answered for each command of one release, in order."""

    release_id: str
    replies: list[CommandAccepted | CommandRejected]

    @property
    def refused(self) -> CommandRejected | None:
        return next((r for r in self.replies if isinstance(r, CommandRejected)), None)


class ProcessReleasesImported(Value):
    """The reply to ImportProcessReleases: one outcome per release attempted, in order; the
    releases after a refused one are not attempted (absent)."""

    status: Literal["imported"] = "imported"
    command_id: str
    releases: list[ImportedReleaseOutcome]


class ImportReleaseGroup(Command):
    """Record several processes' releases in one message: a group commit.

    Each process is executed exactly as its own `ImportProcessReleases` would be (its
    command ids, valid times, provenance, idempotency and refusals), and the events of all
    of them are appended together in as few atomic appends as the store allows. A process
    that is refused anywhere, or whose aggregates another writer moved meanwhile, is
    executed on its own instead: its answer is the same either way.
    """

    context: ClassVar[str] = "registry"
    future_valid_time_allowed: ClassVar[bool] = False

    processes: list[ImportProcessReleases] = Field(
        max_length=1000, description="The processes, each with its releases in order."
    )
    answer: Literal["replies", "counts"] = Field(
        default="replies",
        description="The answer's form: every command's reply (ReleaseGroupImported), or"
        " per command only its outcome and how many events it appended"
        " (ReleaseGroupCounted: a tenth of the bytes). A registry older than this field"
        " refuses it (INVALID_COMMAND, nothing stored): ask again without it.",
    )


class ReleaseGroupImported(Value):
    """The reply to ImportReleaseGroup: per process, in order, what its own
    ImportProcessReleases would have been answered (a process that is not a valid
    ImportProcessReleases is refused alone, INVALID_COMMAND)."""

    status: Literal["imported"] = "imported"
    command_id: str
    processes: list[ProcessReleasesImported | CommandRejected]


class CommandCounted(Value):
    """A command's acceptance in a counted answer: `CommandAccepted` without the events'
    placements, only how many there were."""

    status: Literal["accepted"] = "accepted"
    command_id: str
    events: int = Field(ge=0, description="How many events the command appended (or had).")
    duplicate: bool = Field(
        default=False, description="True when the command had already been processed."
    )


class CountedReleaseOutcome(Value):
    """`ImportedReleaseOutcome` in a counted answer."""

    release_id: str
    replies: list[Annotated[CommandCounted | CommandRejected, Field(discriminator="status")]]

    @property
    def refused(self) -> CommandRejected | None:
        return next((r for r in self.replies if isinstance(r, CommandRejected)), None)


class ProcessReleasesCounted(Value):
    """`ProcessReleasesImported` in a counted answer."""

    status: Literal["imported"] = "imported"
    command_id: str
    releases: list[CountedReleaseOutcome]


class ReleaseGroupCounted(Value):
    """The reply to ImportReleaseGroup asking `answer: counts`: per process, in order, its
    own ImportProcessReleases's answer with each accepted command counted
    (`CommandCounted`), refusals in full."""

    status: Literal["imported"] = "imported"
    command_id: str
    processes: list[
        Annotated[ProcessReleasesCounted | CommandRejected, Field(discriminator="status")]
    ]


IMPORT_COMMANDS: tuple[type[Command], ...] = (
    RecordImportedTenderRelease,
    RecordImportedContractRelease,
    ImportProcessReleases,
    ImportReleaseGroup,
)
