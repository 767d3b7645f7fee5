"""The `person` aggregate (id = pseudonym): a person is erased once; later requests say so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts_schema.base import DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.privacy import ErasePerson, PersonErased


@dataclass(frozen=True)
class Person:
    erased: bool = False


def evolve_person(state: Person, event: DomainEvent) -> Person:
    return Person(erased=True) if isinstance(event, PersonErased) else state


def decide_erase(state: Person, command: ErasePerson, ctx: object) -> Sequence[DomainEvent]:
    if state.erased:
        raise RuleViolation(
            "PERSON_ALREADY_ERASED", f"the person behind {command.pseudonym} is already erased"
        )
    return [PersonErased(pseudonym=command.pseudonym, basis=command.basis)]
