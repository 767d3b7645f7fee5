"""The upcasters: per event type, pure functions lifting a stored payload one version up.

Registered with `contracts_schema.upcasting.upcaster(event_type, from_version)`. An upcaster
is never changed once released (stored events were read through it), and never removed while
a payload of its version may be stored: the log outlives the code.
"""

from __future__ import annotations

from typing import Any

from contracts_schema.money import lift_euro
from contracts_schema.upcasting import upcaster


@upcaster("ContractSigned", 1)
@upcaster("CallOffAwarded", 1)
def value_as_money(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 `value_eur` (a float in euro) -> v2 `value` {amount (exact decimal), currency}."""
    if "value_eur" in payload:
        payload["value"] = lift_euro(payload.pop("value_eur"))
    return payload


@upcaster("ContractAmended", 1)
def new_value_as_money(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 `new_value_eur` -> v2 `new_value` {amount, currency}."""
    if "new_value_eur" in payload:
        payload["new_value"] = lift_euro(payload.pop("new_value_eur"))
    return payload
