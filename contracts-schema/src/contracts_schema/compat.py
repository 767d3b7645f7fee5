"""The rule for event versions, enforced: a stored payload must always stay readable.

The committed JSON schemas `generated/events/<Type>.v<n>.json` are the frozen record of what
was ever written. For every event model this finds:

- a change to the current version's model that a payload written under its committed schema
  would no longer pass (a field removed or renamed, a field newly required, a type, enum or
  constraint narrowed): that needs a new version (`schema_version = n + 1`) and an upcaster
  from n (`contracts_schema.upcasters`);
- a version without its upcaster to the next, or without the frozen schema of a version it
  lifts from;
- a committed version newer than the model (a version taken back).

Compatible changes (descriptions, a new optional field, a wider enum or constraint, a type
made nullable) keep the version and simply regenerate its schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from contracts_schema.base import DomainEvent
from contracts_schema.catalogue import EVENT_MODELS
from contracts_schema.upcasting import UPCASTERS, Upcaster

Schema = dict[str, Any]

# Keys that document and never constrain.
_DOCUMENTATION = frozenset({"description", "title", "default", "examples", "$comment"})
# Bounds a new schema may drop (or loosen) without refusing an old payload.
_LOWER = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems"})
_UPPER = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "decimal_places"})


def schema_file(event_type: str, version: int) -> str:
    return f"events/{event_type}.v{version}.json"


def resolve(schema: Any, defs: Mapping[str, Any]) -> Any:
    """The schema with local `$ref`s inlined and documentation keys dropped."""
    if isinstance(schema, list):
        return [resolve(s, defs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return resolve({**defs[name], **rest}, defs)
    return {
        k: resolve(v, defs) for k, v in schema.items() if k not in _DOCUMENTATION and k != "$defs"
    }


def accepts_all(old: Any, new: Any) -> bool:
    """Whether every value `old` accepts, `new` accepts too (conservatively: False if unsure)."""
    if old == new:
        return True
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    if "anyOf" in new and "anyOf" not in old:
        return any(accepts_all(old, alternative) for alternative in new["anyOf"])
    if "anyOf" in old:
        alternatives = new.get("anyOf", [new])
        return all(any(accepts_all(o, n) for n in alternatives) for o in old["anyOf"])
    if "const" in old and "enum" in new:
        old = {**{k: v for k, v in old.items() if k != "const"}, "enum": [old["const"]]}
    for key in set(old) | set(new):
        if key not in new:
            continue  # a constraint dropped: wider
        if key not in old:
            return False  # a constraint added: narrower
        o, n = old[key], new[key]
        if o == n:
            continue
        if key == "enum":
            if not set(map(json.dumps, o)) <= set(map(json.dumps, n)):
                return False
        elif key in _LOWER:
            if not n <= o:
                return False
        elif key in _UPPER:
            if not n >= o:
                return False
        elif key == "properties":
            if not _properties_compatible(old, new):
                return False
        elif key == "required":
            if not set(n) <= set(o):
                return False
        elif key == "items":
            if not accepts_all(o, n):
                return False
        elif key == "pattern":
            if not _alternatives_added(o, n):
                return False
        else:
            return False
    return True


def _alternatives_added(old: str, new: str) -> bool:
    """Whether pattern `new` is `old` with alternatives appended: `^(a|b)$` -> `^(a|b|c)$`.
    Regular expressions cannot be compared in general; this one form is provably wider."""
    if not (old.startswith("^(") and old.endswith(")$") and new.startswith("^(")):
        return False
    return new.endswith(")$") and new[2:-2].startswith(old[2:-2] + "|")


def _properties_compatible(old: Schema, new: Schema) -> bool:
    return not field_changes(old, new)


def field_changes(old: Schema, new: Schema) -> list[str]:
    """What in `new` refuses a payload `old` accepted, one phrase per field."""
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    closed = new.get("additionalProperties") is False
    changes = []
    for name in sorted(set(old_props) - set(new_props)):
        if closed:
            changes.append(f"{name} (removed or renamed)")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        changes.append(
            f"{name} (newly required)" if name in old_props else f"{name} (new, required)"
        )
    for name in sorted(set(old_props) & set(new_props)):
        if not accepts_all(old_props[name], new_props[name]):
            changes.append(f"{name} (type or constraints narrowed)")
    return changes


def frozen_schema(generated: Path, event_type: str, version: int) -> Schema | None:
    path = generated / schema_file(event_type, version)
    if not path.exists():
        return None
    loaded: Schema = json.loads(path.read_text())
    return loaded


def current_schema(model: type[DomainEvent]) -> Schema:
    return model.model_json_schema()


def problems(
    generated: Path,
    models: Iterable[type[DomainEvent]] = EVENT_MODELS,
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> list[str]:
    found = []
    for model in models:
        name, version = model.event_type, model.schema_version
        for older in range(1, version):
            if (name, older) not in upcasters:
                found.append(
                    f"{name}: v{version} has no upcaster from v{older} to v{older + 1}; register"
                    f" one with @upcaster({name!r}, {older}) in contracts_schema.upcasters"
                )
            if frozen_schema(generated, name, older) is None:
                found.append(
                    f"{name}: the frozen schema of v{older} ({schema_file(name, older)}) is"
                    f" missing; restore it from git (payloads stored as v{older} exist)"
                )
        for path in sorted(generated.glob(f"events/{name}.v*.json")):
            committed = int(path.stem.rsplit(".v", 1)[1])
            if committed > version:
                found.append(
                    f"{name}: v{committed} is committed but the model is v{version}; a version"
                    " once released is never taken back"
                )
        committed_schema = frozen_schema(generated, name, version)
        if committed_schema is None:
            continue  # a new event type or version: its schema is written now
        old = resolve(committed_schema, committed_schema.get("$defs", {}))
        new_raw = current_schema(model)
        new = resolve(new_raw, new_raw.get("$defs", {}))
        changes = field_changes(old, new)
        if changes:
            found.append(
                f"{name} v{version}: payloads stored as v{version} would no longer validate:"
                f" {', '.join(changes)}. Keep the change compatible, or raise {name}"
                f".schema_version to {version + 1} and register an upcaster from v{version}"
                " (docs/evolution.md)"
            )
    return found
