"""correct21: what `audit ocds import` says of a release it cannot record, and days.

- A release whose mapped command pydantic refuses (a release dated 1980) was skipped at
  `$.releases[i]` with pydantic's multi-line text and help link; now at the field's path
  (`$.releases[i].date`) with one line, as the other skip reasons read.
- A contract day outside 1990-01-01..2100-12-31 (signed 0001-01-01, ending in year 1, a
  maximum extent of year 1) was recorded as given (GraphQL showed `signedOn: "0001-01-01"`);
  now the release is refused NOT_RECORDABLE at the day's path, nothing of it stored, the
  other process imported. An end or maximum extent of 9999-12-31 (a "no end" some feeds
  state) was refused the same way; since import33 it is recorded as no end stated
  (tests/service/test_ocds_contract_end_unstated.py).
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

CONTRACT = "ocds-gtnl99-x1-c1"


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    """The two-release process with the contract release's field at `path` set, and another
    process (x2) after it that imports cleanly."""
    process = _process(25, 4)
    node: Any = process["releases"][1]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    other = _process(25, 4)
    for release in other["releases"]:
        release["ocid"] = "ocds-gtnl99-x2"
    return {**process, "releases": process["releases"] + other["releases"]}


async def _import(store: InMemoryEventStore, bus: InProcessBus, package: dict[str, Any]) -> Any:
    return await import_items(read(json.dumps(package).encode(), "portal"), bus.request, store)


async def test_a_release_a_command_refuses_is_named_by_its_field_in_one_line(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    report = await _import(store, bus, _with(["date"], "1980-01-01T00:00:00Z"))
    assert report.imported == 3, report
    [skipped] = report.skipped
    # before: ("$.releases[1]", "cannot be mapped: 1 validation error for
    # RecordImportedTenderRelease\noccurred_at\n  Value error, ... errors.pydantic.dev ...")
    assert skipped.path == "$.releases[1].date", skipped
    assert skipped.reason == (
        "'1980-01-01T00:00:00Z' cannot be recorded: must lie between 1990-01-01 and 2100-12-31"
    )


async def test_a_package_field_a_command_refuses_is_named_at_the_package(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    package = {**_process(25, 4), "publisher": {"name": "P" * 301}}  # commands: at most 300
    report = await _import(store, bus, package)
    assert report.imported == 0
    assert [s.path for s in report.skipped] == ["$.publisher.name", "$.publisher.name"]
    for skipped in report.skipped:
        assert "\n" not in skipped.reason, skipped
        assert "pydantic" not in skipped.reason, skipped
        assert skipped.reason.startswith("cannot be recorded: String should have at most 300")


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (["contracts", 0, "dateSigned"], "0001-01-01T00:00:00Z", "0001-01-01 is not between"),
        (["contracts", 0, "period", "startDate"], "1989-12-31T00:00:00Z", "1989-12-31 is not"),
        (["contracts", 0, "period", "endDate"], "0001-02-01T00:00:00Z", "0001-02-01 is not"),
        (["contracts", 0, "period", "endDate"], "2101-01-01T00:00:00Z", "2101-01-01 is not"),
        (["contracts", 0, "period", "maxExtentDate"], "0001-01-01T00:00:00Z", "0001-01-01 is"),
        (["awards", 0, "date"], "0001-01-01T00:00:00Z", "0001-01-01 is not between"),
    ],
    ids=["signed", "start", "end-year-1", "end-2101", "extent", "award"],
)
async def test_a_day_outside_the_registrys_range_refuses_its_release_at_its_path(
    store: InMemoryEventStore, bus: InProcessBus, path: list[Any], value: str, said: str
) -> None:
    report = await _import(store, bus, _with(path, value))
    # before: imported 4, nothing skipped, the day recorded as given
    assert report.imported == 3, report
    [skipped] = report.skipped
    where = ".".join(str(p) for p in path).replace(".0.", "[0].")
    assert skipped.path == f"$.releases[1].{where}", skipped
    assert skipped.reason.startswith("NOT_RECORDABLE: "), skipped
    assert said in skipped.reason, skipped
    contract = await load_folded(store, FOLDS["registry", "contract"], CONTRACT)
    assert not contract.exists  # nothing of the refused release stored
    other = await load_folded(store, FOLDS["registry", "contract"], "ocds-gtnl99-x2-c1")
    assert other.exists


async def test_the_edges_of_the_range_are_recorded(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    package = _with(["contracts", 0, "period", "maxExtentDate"], "2100-12-31T00:00:00Z")
    report = await _import(store, bus, package)
    assert (report.imported, report.skipped) == (4, []), report
    contract = await load_folded(store, FOLDS["registry", "contract"], CONTRACT)
    assert str(contract.max_extent_date) == "2100-12-31"
