"""`group_append.stored_json` (what a group append stores for each event) is exactly the
envelope's `model_dump_json()`: on the pinned events of `test_sealed_bytes.py` and on
generated envelopes (any JSON payload, values no JSON form holds, times in any offset, with
and without microseconds, signed or not); and it is orjson's, not the model's, where the
values are JSON forms (so the equality above is not the model's dump compared to itself)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts_schema.envelope import EventEnvelope
from eventstore.bulk_seal import seal_trusted
from eventstore.clock import FixedClock
from eventstore.group_append import stored_json
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, seal, trusted
from eventstore.signing import EventSigner
from tests.unit.eventstore.test_bulk_seal import INSTANTS, JSON_VALUES
from tests.unit.eventstore.test_sealed_bytes import CTX, PAYLOAD, SEED


class _Text(str):
    pass


# Values a payload may hold that are not JSON forms: the model dumps them its own way.
NOT_JSON = (
    st.dates()
    | st.datetimes(timezones=st.just(UTC))
    | st.datetimes()
    | st.decimals(allow_nan=False, places=2)
    | st.just("\ud800 lone")
    | st.integers(min_value=2**64, max_value=2**80)
    | st.just(_Text("a str of another class"))
    | st.tuples(st.integers(), st.text())
    | st.uuids()
)
PAYLOADS = st.dictionaries(
    st.text(), st.recursive(JSON_VALUES | NOT_JSON, lambda i: st.lists(i, max_size=3)), max_size=6
)


def _dumped(envelope: EventEnvelope) -> bytes | str:
    try:
        return envelope.model_dump_json().encode()
    except Exception as exc:  # (a lone surrogate: the model refuses it too)
        return type(exc).__name__


def _stored(envelope: EventEnvelope) -> bytes | str:
    try:
        return stored_json(envelope)
    except Exception as exc:
        return type(exc).__name__


def _envelope(payload: dict[str, Any], occurred: datetime, recorded: datetime, signed: bool) -> Any:
    values = {
        "event_id": str(uuid.UUID(int=7)), "event_type": "ContractAmended", "schema_version": 2,
        "context": "registry", "aggregate_type": "contract", "aggregate_id": "c-1",
        "aggregate_version": 3, "occurred_at": occurred, "recorded_at": recorded,
        "actor": "import:x", "command_id": "cmd-1", "correlation_id": "corr-1",
        "causation_id": None, "prev_hash": "ab" * 32, "hash": "cd" * 32, "payload": payload,
        "signer": "UABC" if signed else None, "signature": "c2ln" if signed else None,
    }  # fmt: skip
    return values


@pytest.mark.parametrize("seed", [None, SEED], ids=["unsigned", "signed"])
def test_sealed_events_are_stored_as_the_model_dumps_them(seed: str | None) -> None:
    signer = EventSigner(seed) if seed else None
    history = AggregateHistory(CTX, "tender", "ocds-x-1", (), 0)
    at = datetime(2020, 1, 6, 10, tzinfo=timezone(timedelta(hours=1)))
    news = [NewEvent("TenderPublished", 2, PAYLOAD, at), NewEvent("TenderPublished", 2, {}, at)]
    meta = CommandMetadata("cmd-1", "import:bench", "corr-1", "cause-1")
    clock = FixedClock(datetime(2026, 11, 30, 18, 0, 0, 123456, tzinfo=UTC))
    for sealed in (seal(clock, history, news, meta, signer), seal_trusted(clock, history, news,
                                                                          meta, signer)):  # fmt: skip
        for envelope in sealed:
            assert stored_json(envelope) == envelope.model_dump_json().encode()
            assert stored_json(envelope) == envelope.model_dump_json().encode()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=PAYLOADS,
    occurred=INSTANTS,
    recorded=INSTANTS,
    signed=st.booleans(),
    validated=st.booleans(),
)
def test_generated_envelopes_are_stored_as_the_model_dumps_them(
    payload: dict[str, Any], occurred: datetime, recorded: datetime, signed: bool, validated: bool
) -> None:
    values = _envelope(payload, occurred, recorded, signed)
    envelope = EventEnvelope.model_validate(values) if validated else trusted(EventEnvelope, values)
    assert _stored(envelope) == _dumped(envelope)
    assert _stored(envelope) == _dumped(envelope)  # (the times' forms as kept)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.dictionaries(st.text(), JSON_VALUES, max_size=6), occurred=INSTANTS)
def test_a_json_form_is_not_dumped_by_the_model(
    payload: dict[str, Any], occurred: datetime
) -> None:
    if any(_big(v) for v in payload.values()):  # (beyond 64 bits: the model's way)
        return
    envelope = trusted(EventEnvelope, _envelope(payload, occurred, occurred, False))
    expected = envelope.model_dump_json().encode()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(EventEnvelope, "model_dump_json", _refuse)
        assert stored_json(envelope) == expected


def test_a_payload_that_is_no_json_form_is_dumped_by_the_model() -> None:
    at = datetime(2020, 1, 6, 9, tzinfo=UTC)
    for odd in (date(2020, 1, 6), Decimal("1.50"), at, 2**70, _Text("x")):
        envelope = trusted(EventEnvelope, _envelope({"x": [odd]}, at, at, False))
        assert stored_json(envelope) == envelope.model_dump_json().encode()


def _refuse(*_args: object, **_kwargs: object) -> str:
    raise AssertionError("dumped by the model")


def _big(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, list):
        return any(_big(v) for v in value)
    if isinstance(value, dict):
        return any(_big(v) for v in value.values())
    return False
