"""Every read model says, per event type of its contexts, whether it handles or ignores it.

A new event type in a context must be given a meaning (or ignored on purpose) by every read
model that reads the context; this test is what makes that so.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from bootstrap.read_models import READ_MODELS, ReadModel
from contracts_schema import catalogue
from contracts_schema.base import DomainEvent
from contracts_schema.subjects import REGISTRY
from gateway.projections import ALL as GATEWAY_READ_MODELS


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda m: m.name)
def test_every_read_model_declares_every_event_type_of_its_contexts(model: ReadModel) -> None:
    assert model().undeclared() == set()


def test_the_one_list_holds_every_read_model_once() -> None:
    names = [m.name for m in READ_MODELS]
    assert len(names) == len(set(names))
    assert {k.name for k in GATEWAY_READ_MODELS} <= set(names)
    assert {"audit_history", "enrolment_registry_facts", "notifier_schedule"} <= set(names)


class TenderRenumbered(DomainEvent):
    """A throwaway event of the registry context that no read model has heard of."""

    aggregate_type: ClassVar[str] = "tender"
    context: ClassVar[str] = "registry"

    tender_id: str


def test_a_new_registry_event_type_is_reported_by_every_registry_read_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the registry publishes one more event type (its catalogue grows) ...
    monkeypatch.setattr(catalogue, "EVENT_MODELS", (*catalogue.EVENT_MODELS, TenderRenumbered))
    readers = [m for m in READ_MODELS if REGISTRY in m.kind.contexts]
    assert {"enrolment_registry_facts", "notifier_schedule", "tenders"} <= {m.name for m in readers}
    # ... then every registry read model that interprets events reports it undeclared, and
    # only those that keep envelopes as they are (an event log, audit's history) do not.
    for model in readers:
        expected = set() if model.kind.reads_every_event else {"TenderRenumbered"}
        assert model().undeclared() == expected, model.name
    assert any(not m.kind.reads_every_event for m in readers)
