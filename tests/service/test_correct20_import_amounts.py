"""An imported contract value beyond what the registry records is refused with its path.

Commands take amounts of 0..10^12 EUR (`contracts_schema.bounds`); `audit ocds import` recorded
any amount a release stated: `1e300` (or 10^40) became the contract's `valueEur` and the public
`statistics.contractsByKind.totalValueEur` a 301-digit number, and a negative amount was
refused by the registry as `IMPORT_NOT_APPLICABLE` with pydantic's multi-line text and link
(correct20, seen on a `make run`). Now such a release is refused whole, as a name holding an
invisible character is (`NOT_RECORDABLE`, `$.releases[i].contracts[j].value.amount`), and
nothing of it stored; a value within the bound is recorded as before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import FOLDS
from eventstore.folded import load_folded
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import import _process


def with_amount(amount: Any) -> bytes:
    process = _process(25, 4)
    process["releases"][1]["contracts"][0]["value"]["amount"] = amount
    return json.dumps(process).encode()


@pytest.mark.parametrize(
    ("amount", "said"),
    [(1e300, "more than 10^12 EUR"), (10**40, "more than 10^12 EUR"), (-5, "negative")],
    ids=["1e300", "10^40", "negative"],
)
async def test_a_value_beyond_the_registrys_bound_skips_its_release_naming_the_path(
    store: InMemoryEventStore, bus: InProcessBus, amount: Any, said: str
) -> None:
    report = await import_items(read(with_amount(amount), "portal"), bus.request, store)
    assert report.imported == 1, report  # the tender's release
    [skipped] = report.skipped
    assert skipped.path == "$.releases[1].contracts[0].value.amount", skipped
    assert skipped.reason.startswith("NOT_RECORDABLE: "), skipped
    assert said in skipped.reason, skipped
    assert "validation error" not in skipped.reason, skipped
    contract = await load_folded(store, FOLDS["registry", "contract"], "ocds-gtnl99-x1-c1")
    assert not contract.exists


async def test_a_value_at_the_bound_is_recorded(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    report = await import_items(read(with_amount(10**12), "portal"), bus.request, store)
    assert (report.imported, report.skipped) == (2, [])
    contract = await load_folded(store, FOLDS["registry", "contract"], "ocds-gtnl99-x1-c1")
    assert contract.value_eur == 10**12
