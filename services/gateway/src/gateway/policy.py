"""Who may send which command.

Coordinators send every command. A participant may enrol itself, withdraw itself, record its
own call-offs and manage its own notification subscriptions: the command's organisation field
must be its own code. Auditors are read-only; anonymous clients send nothing.
"""

from __future__ import annotations

import re

from contracts_schema.base import Command
from gateway.auth import Principal, Role

SELF_SERVICE = re.compile(
    r"^(EnrolParticipant|WithdrawParticipant|StartMiniCompetition|AwardCallOff|Subscribe|Unsubscribe)"
)
ORGANISATION_FIELDS = ("organisation_code", "participant_code", "subscriber_code")


def refusal(principal: Principal, command: Command) -> str | None:
    """None when allowed; otherwise a sentence saying why not."""
    name = command.command_type
    if principal.role is Role.COORDINATOR:
        return None
    if principal.role is Role.ANONYMOUS:
        return f"{name} needs a signed-in coordinator or participant"
    if principal.role is Role.AUDITOR:
        return f"auditors are read-only and may not send {name}"
    field = next((f for f in ORGANISATION_FIELDS if f in type(command).model_fields), None)
    if not SELF_SERVICE.match(name) or field is None:
        return f"participants may not send {name}; ask a coordinator"
    own = getattr(command, field)
    if own != principal.organisation:
        return (
            f"a participant may send {name} only for itself ({principal.organisation}),"
            f" not for {own}"
        )
    return None
