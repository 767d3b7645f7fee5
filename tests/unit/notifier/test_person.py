"""The `person` aggregate: erased once; a second erasure (another command) is refused."""

from __future__ import annotations

import pytest

from contracts_schema.errors import RuleViolation
from contracts_schema.privacy import ErasePerson, PersonErased
from notifier.domain.person import Person, decide_erase, evolve_person

PSEUDONYM = "p-" + "0f" * 16


def test_a_person_is_erased_once() -> None:
    command = ErasePerson(command_id="e1", pseudonym=PSEUDONYM, basis="request")
    [event] = decide_erase(Person(), command, None)
    assert event == PersonErased(pseudonym=PSEUDONYM, basis="request")
    with pytest.raises(RuleViolation) as refused:
        decide_erase(evolve_person(Person(), event), command, None)
    assert refused.value.code == "PERSON_ALREADY_ERASED"


def test_an_erasure_names_a_pseudonym_not_an_identity() -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        ErasePerson(command_id="e2", pseudonym="jan.jansen@example.org", basis="request")
