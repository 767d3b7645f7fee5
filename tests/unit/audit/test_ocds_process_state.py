"""The importer's tally of a process is copied before each release is mapped onto it: the copy
equals a deep copy, and changing it leaves the original as it was."""

from __future__ import annotations

import copy
from dataclasses import fields
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from audit.ocds.importer_map import ProcessState

codes = st.text(min_size=1, max_size=4)
seen = st.fixed_dictionaries(
    {
        "end": st.none() | st.dates(),
        "extent": st.none() | st.dates(),
        "value": st.none() | st.floats(allow_nan=False),
        "status": st.sampled_from(["active", "terminated"]),
        "signed": st.none() | st.dates(),
        "start": st.none() | st.dates(),
        "suppliers": st.lists(codes).map(tuple),
    }
)
generated: dict[str, st.SearchStrategy[object]] = {
    "planned": st.booleans(),
    "published": st.booleans(),
    "cancelled": st.booleans(),
    "framework": st.booleans(),
    "authority": codes,
    "procedure": codes,
    "procedure_stated": st.booleans(),
    "plan_period": st.none() | st.dates(),
    "title": codes,
    "start": st.none() | st.dates(),
    "lots": st.dictionaries(codes, st.sampled_from(["open", "provisional", "awarded"])),
    "lot_titles": st.dictionaries(codes, codes),
    "suppliers": st.dictionaries(codes, st.lists(codes)),
    "contracts": st.dictionaries(codes, seen),
    "holders": st.dictionaries(codes, codes),
    "award_days": st.dictionaries(codes, st.dates()),
}
states = st.builds(ProcessState, **generated)


def test_every_field_is_generated() -> None:
    """A field added to the state gets a value here too (else the copy of it goes untested)."""
    assert {f.name for f in fields(ProcessState)} == set(generated)


@given(states)
def test_a_copy_is_a_deep_copy_that_changes_alone(state: ProcessState) -> None:
    before = copy.deepcopy(state)
    mine = state.copy()
    for f in fields(ProcessState):
        assert getattr(mine, f.name) == getattr(before, f.name), f.name
    assert mine == before
    mine.lots["new"] = "open"
    mine.lot_titles["new"] = "New"
    mine.holders["new"] = "a1"
    mine.award_days["new"] = date(2099, 1, 1)
    for lot in mine.suppliers.values():
        lot.append("X")
    for contract in mine.contracts.values():
        contract["end"] = date(2099, 1, 1)
        contract["status"] = "terminated"
    mine.suppliers["new"] = []
    mine.contracts["new"] = {}
    mine.planned = not mine.planned
    assert state == before
