"""Every registry and enrolment event has one meaning: handled or ignored by exactly one fold."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, get_args

import pytest

from contracts_schema.catalogue import EVENT_MODELS
from contracts_schema.enrolment import EVENTS as ENROLMENT_EVENTS
from contracts_schema.errors import FoldError
from contracts_schema.folds import FOLDS, coverage_problems, typed_event
from contracts_schema.registry import EVENTS as REGISTRY_EVENTS
from contracts_schema.registry.events import TenderEvent
from contracts_schema.registry.state import ContractKind
from contracts_schema.registry.values import ContractKind as WireContractKind
from tests.unit.folds.histories import HISTORIES, TENDER


def test_every_event_of_registry_and_enrolment_belongs_to_exactly_one_fold() -> None:
    for model in (*REGISTRY_EVENTS, *ENROLMENT_EVENTS):
        owners = [key for key, fold in FOLDS.items() if model in fold.events]
        assert owners == [(model.context, model.aggregate_type)], model.__name__
    assert coverage_problems() == []


@pytest.mark.parametrize("key", sorted(FOLDS))
def test_each_fold_handles_or_deliberately_ignores_each_of_its_events(key: tuple[str, str]) -> None:
    fold = FOLDS[key]
    assert fold.handled | fold.ignored == fold.events
    assert not fold.handled & fold.ignored


@pytest.mark.parametrize("key", sorted(FOLDS))
def test_each_handled_event_changes_the_state_and_each_ignored_one_does_not(
    key: tuple[str, str],
) -> None:
    # A handled event that changes nothing would be a silent drop in disguise.
    fold = FOLDS[key]
    seen = set()
    for aggregate_id, history in HISTORIES[key]:
        state = fold.initial(aggregate_id)
        for event in history:
            after = fold.evolve(state, event)
            kind = type(event)
            assert (after == state) is (kind in fold.ignored), kind.__name__
            seen.add(kind)
            state = after
    assert seen >= fold.handled, sorted(m.__name__ for m in fold.handled - seen)


def test_a_new_event_class_without_a_meaning_is_caught() -> None:
    class TenderRenamed(TenderEvent):
        """A throwaway event someone added to the tender and forgot to fold."""

        title: str

    problems = coverage_problems((*EVENT_MODELS, TenderRenamed))
    assert len(problems) == 1
    assert problems[0].startswith("TenderRenamed: the tender fold neither handles nor ignores it")
    tender = FOLDS[("registry", "tender")]
    state = tender.replay("OT2010", TENDER[:1])
    with pytest.raises(FoldError, match="TenderRenamed cannot apply to tender OT2010"):
        tender.evolve(state, TenderRenamed(tender_id="OT2010", title="x"))


def test_a_new_aggregate_type_without_a_fold_is_caught() -> None:
    class BidOpened(TenderEvent):
        aggregate_type: ClassVar[str] = "bid"

        opened_on: date

    assert coverage_problems((BidOpened,)) == ["BidOpened: no fold for registry aggregate bid"]


def test_folds_refuse_events_of_another_aggregate() -> None:
    contract = FOLDS[("registry", "contract")]
    with pytest.raises(FoldError, match="TenderPlanned cannot apply to contract c-1"):
        contract.evolve(contract.initial("c-1"), TENDER[0])


def test_typed_event_reads_a_stored_payload_and_names_an_unknown_type() -> None:
    planned = TENDER[0]
    assert typed_event("TenderPlanned", planned.model_dump(mode="json")) == planned
    with pytest.raises(ValueError, match="unknown event type 'TenderRenamed'"):
        typed_event("TenderRenamed", {})


def test_the_contract_kind_vocabulary_is_the_wire_s() -> None:
    assert {k.value for k in ContractKind} == set(get_args(WireContractKind))
