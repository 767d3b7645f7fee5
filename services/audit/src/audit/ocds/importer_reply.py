"""The registry's answers to the importer's messages, read with their unions discriminated.

`ReleaseGroupImported.processes` (`ProcessReleasesImported | CommandRejected`) and
`ImportedReleaseOutcome.replies` (`CommandAccepted | CommandRejected`) are plain unions in the
contract: pydantic's smart mode tries each member of each for every element, which made
reading a group's answer ~7.7 us per event stored, a tenth of the importer's CPU (helper
import27). Every member carries its `status` literal, and the registry writes it in each
answer, so the importer reads them through these subclasses, whose unions go by `status`
straight to their member: the same fields, the same checks, the contract's classes
(`isinstance` holds); an answer without a `status` where the contract's default would fill
it is refused (the registry never sends one).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import CommandAccepted, CommandRejected


class Outcome(ImportedReleaseOutcome):
    replies: list[Annotated[CommandAccepted | CommandRejected, Field(discriminator="status")]]


class ProcessAnswer(ProcessReleasesImported):
    releases: list[Outcome]  # type: ignore[assignment]


class GroupAnswer(ReleaseGroupImported):
    processes: list[  # type: ignore[assignment]
        Annotated[ProcessAnswer | CommandRejected, Field(discriminator="status")]
    ]
