"""An amount of money as events store it (since ContractSigned/ContractAmended/CallOffAwarded v2).

v1 events carried a bare `value_eur` float: binary, so 1_000_000.10 was not exact, and with no
currency for OCDS's Value. v2 carries `{"amount": "1000000.10", "currency": "EUR"}`: a decimal
written as a string, and the currency. The registry records euro only; another currency is a
widening of `Currency`, a compatible change (no new version).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from contracts_schema.base import Value

Currency = Literal["EUR"]


class Money(Value):
    amount: Decimal = Field(ge=0, allow_inf_nan=False, description="The amount, exactly.")
    currency: Currency = Field(default="EUR", description="ISO 4217 currency code.")

    @classmethod
    def euro(cls, amount: Decimal | float | None) -> Money | None:
        # Through str: the decimal the sender meant, not a float's binary expansion.
        return None if amount is None else cls(amount=Decimal(str(amount)))


def lift_euro(value: float | int | None) -> dict[str, str] | None:
    """A v1 `value_eur` as a v2 money value (for the upcasters)."""
    return None if value is None else {"amount": str(Decimal(str(value))), "currency": "EUR"}
