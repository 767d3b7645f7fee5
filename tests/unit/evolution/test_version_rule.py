"""The version rule is enforced: an incompatible change to an event model without a new
version (and its upcaster) fails `make schema-check`, naming the event and the fields."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from contracts_schema import compat, generate
from contracts_schema.base import DomainEvent
from contracts_schema.upcasting import UnreadableEvent, decode, upcast

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "contracts-schema" / "src"
DOCS = ROOT / "docs" / "refusal-codes.md"


def _schema_check_with(
    tmp_path: Path, module: str, old: str, new: str
) -> subprocess.CompletedProcess[str]:
    """`make schema-check`'s first step, run on a copy of contracts_schema with one edit,
    against the committed generated files."""
    copy = tmp_path / "src"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "contracts_schema" / module
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
    env = {**os.environ, "PYTHONPATH": str(copy)}
    args = ["--check", "--out", str(generate.DEFAULT_OUT), "--docs", str(DOCS)]
    return subprocess.run(
        [sys.executable, "-m", "contracts_schema.generate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_incompatible_event_change_without_a_new_version_fails_the_check(
    tmp_path: Path,
) -> None:
    # ContractExpired gains a required field and renames expired_on: stored payloads break.
    result = _schema_check_with(
        tmp_path,
        "registry/contract_events.py",
        '    expired_on: date = Field(description="Date it expired.")\n',
        '    expired_at: date = Field(description="Date it expired.")\n'
        '    reason: str = Field(description="Why.")\n',
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "incompatible event change: ContractExpired v1" in result.stderr
    assert "expired_on (removed or renamed)" in result.stderr
    assert "expired_at (new, required)" in result.stderr
    assert "reason (new, required)" in result.stderr


def test_a_compatible_change_passes_the_version_rule(tmp_path: Path) -> None:
    # A new optional field keeps every stored payload valid: only the schema file is stale.
    result = _schema_check_with(
        tmp_path,
        "registry/contract_events.py",
        '    expired_on: date = Field(description="Date it expired.")\n',
        '    expired_on: date = Field(description="Date it expired.")\n'
        '    note: str | None = Field(default=None, description="A remark.")\n',
    )
    assert "incompatible" not in result.stderr
    assert "out of date: contracts-schema/generated/events/ContractExpired.v1.json" in (
        result.stderr
    )


class ShipmentV1(DomainEvent):
    event_type: ClassVar[str] = "Shipment"
    aggregate_type: ClassVar[str] = "shipment"
    context: ClassVar[str] = "test"
    weight_kg: float = Field(ge=0)
    status: str = Field(pattern="^(open|closed)$")


class ShipmentV2(DomainEvent):
    event_type: ClassVar[str] = "Shipment"
    schema_version: ClassVar[int] = 2
    aggregate_type: ClassVar[str] = "shipment"
    context: ClassVar[str] = "test"
    weight_g: int = Field(ge=0)
    status: str = Field(pattern="^(open|closed)$")


def _freeze(tmp_path: Path, model: type[DomainEvent]) -> Path:
    generated = tmp_path / "generated"
    path = generated / compat.schema_file(model.event_type, model.schema_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate._dump(model.model_json_schema()))
    return generated


def _grams(payload: dict[str, Any]) -> dict[str, Any]:
    kg = payload.pop("weight_kg")
    return {**payload, "weight_g": round(kg * 1000)}


def test_a_new_version_needs_its_upcaster_and_keeps_the_frozen_schema(tmp_path: Path) -> None:
    generated = _freeze(tmp_path, ShipmentV1)
    # The same version, changed incompatibly: named with its fields.
    renamed = compat.problems(generated, [_as_v1(ShipmentV2)], {})
    assert len(renamed) == 1
    assert "Shipment v1" in renamed[0]
    assert "weight_kg (removed or renamed)" in renamed[0]
    assert "weight_g (new, required)" in renamed[0]
    # A new version without its upcaster.
    missing = compat.problems(generated, [ShipmentV2], {})
    assert missing == [
        "Shipment: v2 has no upcaster from v1 to v2; register one with"
        " @upcaster('Shipment', 1) in contracts_schema.upcasters"
    ]
    # With it: fine, and a v1 payload reads as v2.
    upcasters = {("Shipment", 1): _grams}
    assert compat.problems(generated, [ShipmentV2], upcasters) == []
    stored = {"weight_kg": 1.25, "status": "open"}
    assert upcast("Shipment", 1, stored, 2, upcasters) == {"weight_g": 1250, "status": "open"}
    assert stored == {"weight_kg": 1.25, "status": "open"}  # the stored payload is untouched
    # The frozen v1 schema is required too.
    (generated / compat.schema_file("Shipment", 1)).unlink()
    assert "frozen schema of v1" in compat.problems(generated, [ShipmentV2], upcasters)[0]


def _as_v1(model: type[DomainEvent]) -> type[DomainEvent]:
    attrs = {"schema_version": 1, "event_type": model.event_type, "__module__": __name__}
    return type(model.__name__, (model,), attrs)


def test_narrowed_and_widened_constraints() -> None:
    old = {"properties": {"s": {"enum": ["a", "b"]}, "n": {"type": "integer", "maximum": 5}}}
    wider = {"properties": {"s": {"enum": ["a", "b", "c"]}, "n": {"type": "integer"}}}
    narrower = {"properties": {"s": {"enum": ["a"]}, "n": {"type": "integer", "maximum": 4}}}
    nullable = {
        "properties": {
            "s": {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]},
            "n": {"type": "integer", "maximum": 5},
        }
    }
    assert compat.field_changes(old, wider) == []
    assert compat.field_changes(old, nullable) == []
    assert compat.field_changes(old, narrower) == [
        "n (type or constraints narrowed)",
        "s (type or constraints narrowed)",
    ]


def test_decode_names_an_unknown_type_and_a_version_newer_than_the_code() -> None:
    with pytest.raises(UnreadableEvent, match=r"ContractExpired v9 is newer than this code's"):
        decode("ContractExpired", 9, {})
    with pytest.raises(UnreadableEvent, match="unknown event type 'TenderRenamed'"):
        decode("TenderRenamed", 1, {})


def test_a_pattern_is_wider_only_when_alternatives_are_appended() -> None:
    from contracts_schema.compat import accepts_all

    old = {"type": "string", "pattern": r"^(GM\d{4}|KVK-\d{8})$"}
    assert accepts_all(old, {"type": "string", "pattern": r"^(GM\d{4}|KVK-\d{8}|OIN-\d{20})$"})
    assert not accepts_all(old, {"type": "string", "pattern": r"^(GM\d{4})$"})
    assert not accepts_all(old, {"type": "string", "pattern": r"^(GM\d{5}|KVK-\d{8})$"})
