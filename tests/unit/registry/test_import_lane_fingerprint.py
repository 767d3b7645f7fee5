"""The lane's fingerprint of an imported command (`import_lane.json_form`, hashed canonically)
is the general path's (`canonical_json_form(command.model_dump(mode="json"))`, what
`CommandService.execute` records): on generated commands as the group message carries them
(parsed from JSON), tender and contract, with and without the optional fields; and it is
built without the model's dump where the command is of the fields it knows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts_schema.registry.import_commands import (
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from eventstore.hashing import canonical_json_form
from registry.import_lane import json_form
from tests.unit.eventstore.test_bulk_seal import INSTANTS, JSON_VALUES

FACTS = st.lists(
    st.fixed_dictionaries(
        {
            "event_type": st.sampled_from(["TenderPublished", "ContractSigned", "LotAwarded"]),
            "payload": st.dictionaries(st.text(), JSON_VALUES, max_size=5),
        }
    ),
    max_size=4,
)
TEXT = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() == t and t.isprintable())


def _iso(at: datetime) -> str:
    return at.isoformat()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    contract=st.booleans(),
    facts=FACTS,
    occurred=st.none() | INSTANTS,
    release_date=INSTANTS,
    package_uri=st.none() | st.text(max_size=40),
    publisher=TEXT,
)
def test_the_lanes_fingerprint_is_the_general_paths(
    contract: bool,
    facts: list[dict[str, Any]],
    occurred: datetime | None,
    release_date: datetime,
    package_uri: str | None,
    publisher: str,
) -> None:
    body: dict[str, Any] = {
        "command_id": "import-1a2b", "ocid": "ocds-x-1", "release_id": "r-1",
        "release_date": _iso(release_date), "publisher": publisher, "facts": facts,
    }  # fmt: skip
    if occurred is not None and datetime(2000, 1, 1) <= occurred.replace(tzinfo=None):
        body["occurred_at"] = _iso(occurred)
    if package_uri is not None:
        body["package_uri"] = package_uri
    model = RecordImportedContractRelease if contract else RecordImportedTenderRelease
    body["contract_id" if contract else "tender_id"] = "x-1"
    try:
        command = model.model_validate(json.loads(json.dumps(body)))
    except ValueError:
        return  # (a body the contract refuses never reaches the lane)
    expected = canonical_json_form(command.model_dump(mode="json"))
    assert canonical_json_form(json_form(command)) == expected
    with pytest.MonkeyPatch.context() as m:  # built from the values, not by the model
        m.setattr(model, "model_dump", _refuse)
        assert canonical_json_form(json_form(command)) == expected


def _refuse(*_args: object, **_kwargs: object) -> Any:
    raise AssertionError("dumped by the model")
