"""Facts a decision reads from outside its own aggregate, loaded beforehand by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
