"""Facts a decision reads from outside its own aggregate, loaded beforehand by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts_schema.errors import RuleViolation
from contracts_schema.registry.state import TenderState


@dataclass(frozen=True)
class FrozenParticipantList:
    """The enrolment service's ParticipantListFrozen for a tender (the list it owns)."""

    tender_id: str
    frozen_on: date
    participant_codes: tuple[str, ...]


@dataclass(frozen=True)
class SigningFacts:
    """What signing a contract must know: the tender's awards, and whether a call-off
    (the enrolment service's) already uses the contract id."""

    tender: TenderState | None = None
    call_off_id_taken: bool = False


@dataclass(frozen=True)
class NamedProgramme:
    """Whether the programme a tender is planned under has been planned (by any of its facts:
    like an organisation's, a programme's existence is not compared by day)."""

    programme_id: str
    planned: bool


@dataclass(frozen=True)
class CallOffOfId:
    """The enrolment service's call-off under the id a contract command names, if any
    (contracts and call-offs share one id space): a command meant for a registry contract
    that names a call-off is refused naming what the id is."""

    call_off_id: str
    framework_contract_id: str | None
    participant_code: str | None


@dataclass(frozen=True)
class KnownSuccessor:
    """Whether the programme or tender a successor link names exists (by any of its facts:
    existence across aggregates is not compared by day, docs/valid-time.md)."""

    successor_id: str
    exists: bool


def require_known_successor(facts: object, kind: str, successor_id: str, of: str) -> None:
    """A link names a programme or tender the registry holds: an unknown id (a typo, or one
    not planned yet) would leave a successor no view can show and no expiry can point to."""
    if not isinstance(facts, KnownSuccessor) or facts.successor_id != successor_id:
        raise TypeError(f"a successor link needs the KnownSuccessor fact of {successor_id}")
    if facts.exists:
        return
    why = (
        f"{kind} {successor_id} has not been planned; plan the successor {kind} before"
        f" linking it as successor of {of}"
    )
    if kind == "tender":
        raise RuleViolation("SUCCESSOR_TENDER_NOT_FOUND", why)
    raise RuleViolation("SUCCESSOR_PROGRAMME_NOT_FOUND", why)
