"""A value-only amendment reaches the municipalities with its new value (user8: the
integration event had dates but no value, so only the summary said what changed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts_schema.integration.events import ContractAmendedV1
from contracts_schema.money import Money
from contracts_schema.registry.contract_events import ContractAmended
from notifier.feed import to_payload


class Directory:
    def recipients(self, contract_id: str) -> tuple[str, ...]:
        return ("GM0363",)

    def tender_title(self, tender_id: str) -> tuple[str | None, bool]:
        return None, True


def test_a_value_only_amendment_carries_its_new_value() -> None:
    fact = ContractAmended(
        contract_id="c-1",
        amended_on=date(2024, 3, 1),
        summary="indexation",
        new_value=Money(amount=Decimal("1250000.50")),
    )
    found = to_payload(fact, Directory())
    assert found is not None
    payload = found[0]
    assert isinstance(payload, ContractAmendedV1)
    assert payload.value == Money(amount=Decimal("1250000.50"))
    assert payload.end_date is None
    wire = payload.model_dump(mode="json")
    assert wire["value"] == {"amount": "1250000.50", "currency": "EUR"}
