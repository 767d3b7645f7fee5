"""The public commands: who may send each, and on whose behalf. The one table from which the
gateway's mutations and its permission check are both made.

Coordinators send every public command. A participant sends the commands marked `SELF`, and
only for itself: the command's `own` field must be its organisation code. Auditors are
read-only; anonymous clients send nothing. A command not in the table (one a service issues to
itself, such as the notifier's RaiseExpiryWarning) is no mutation at all, so a new command is
private until a line here says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from contracts_schema.base import Command
from contracts_schema.enrolment import commands as enrolment
from contracts_schema.notifier import commands as notifier
from contracts_schema.registry import commands as registry
from gateway.auth import Principal, Role


class Rule(Enum):
    COORDINATOR = "coordinators only"
    SELF = "coordinators, and a participant for its own organisation"


@dataclass(frozen=True)
class PublicCommand:
    model: type[Command]
    rule: Rule
    own: str | None = None  # SELF: the field that must be the participant's own code


C, S = Rule.COORDINATOR, Rule.SELF
R, E, N = registry, enrolment, notifier

PUBLIC_COMMANDS: tuple[PublicCommand, ...] = (
    # registry: programmes, tenders, awards and contracts
    PublicCommand(R.PlanProgramme, C),
    PublicCommand(R.LinkSuccessorProgramme, C),
    PublicCommand(R.PlanTender, C),
    PublicCommand(R.PublishPriorInformationNotice, C),
    PublicCommand(R.HoldMarketConsultation, C),
    PublicCommand(R.PublishTender, C),
    PublicCommand(R.CorrectTender, C),
    PublicCommand(R.ClarifyTender, C),
    PublicCommand(R.PauseTender, C),
    PublicCommand(R.ResumeTender, C),
    PublicCommand(R.CancelLot, C),
    PublicCommand(R.CancelTender, C),
    PublicCommand(R.LinkSuccessorTender, C),
    PublicCommand(R.RecordBids, C),
    PublicCommand(R.DecideProvisionalAward, C),
    PublicCommand(R.ReviseProvisionalAward, C),
    PublicCommand(R.WithdrawProvisionalAward, C),
    PublicCommand(R.StartReviewProceedings, C),
    PublicCommand(R.ConcludeReviewProceedings, C),
    PublicCommand(R.RecordStandstillEnded, C),
    PublicCommand(R.MakeAwardDefinitive, C),
    PublicCommand(R.SignContract, C),
    PublicCommand(R.AmendContract, C),
    PublicCommand(R.ExtendContract, C),
    PublicCommand(R.TransferContract, C),
    PublicCommand(R.TerminateContract, C),
    PublicCommand(R.ExpireContract, C),
    # enrolment: organisations, windows, participants, call-offs
    PublicCommand(E.LoadMunicipalities, C),
    PublicCommand(E.RegisterOrganisation, C),
    PublicCommand(E.RenameOrganisation, C),
    PublicCommand(E.MergeMunicipality, C),
    PublicCommand(E.OpenEnrolmentWindow, C),
    PublicCommand(E.ExtendEnrolmentWindow, C),
    PublicCommand(E.CloseEnrolmentWindow, C),
    PublicCommand(E.EnrolParticipant, S, "organisation_code"),
    PublicCommand(E.WithdrawParticipant, S, "organisation_code"),
    PublicCommand(E.StartMiniCompetition, S, "participant_code"),
    PublicCommand(E.AwardCallOff, S, "participant_code"),
    # notifier: an organisation's webhooks (RaiseExpiryWarning is the notifier's own)
    PublicCommand(N.SubscribeWebhook, S, "organisation_code"),
    PublicCommand(N.UnsubscribeWebhook, S, "organisation_code"),
    PublicCommand(N.ReplayWebhookDeliveries, S, "organisation_code"),
)
BY_TYPE = {p.model.command_type: p for p in PUBLIC_COMMANDS}


def _check_table() -> None:
    for entry in PUBLIC_COMMANDS:
        fields = entry.model.model_fields
        if (entry.rule is Rule.SELF) != (entry.own is not None) or (
            entry.own is not None and entry.own not in fields
        ):
            raise TypeError(f"{entry.model.command_type}: a SELF command names its own field")


_check_table()


def refusal(principal: Principal, command: Command) -> str | None:
    """None when allowed; otherwise a sentence saying why not."""
    name = command.command_type
    entry = BY_TYPE.get(name)
    if entry is None:
        return f"{name} is not a public command"
    if principal.role is Role.COORDINATOR:
        return None
    if principal.role is Role.ANONYMOUS:
        return f"{name} needs a signed-in coordinator or participant"
    if principal.role is Role.AUDITOR:
        return f"auditors are read-only and may not send {name}"
    if entry.rule is Rule.COORDINATOR or entry.own is None:
        return f"participants may not send {name}; ask a coordinator"
    own = getattr(command, entry.own)
    if own != principal.organisation:
        return (
            f"a participant may send {name} only for itself ({principal.organisation}),"
            f" not for {own}"
        )
    return None
