"""The OCDS 1.1.5 schemas shipped inside the package, and validators that never go online."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

FILES = (
    "release-schema.json",
    "release-package-schema.json",
    "record-package-schema.json",
    "versioned-release-validation-schema.json",
)


@cache
def schema(name: str) -> dict[str, Any]:
    if name not in FILES:
        raise ValueError(f"no shipped OCDS schema {name!r}; shipped: {FILES}")
    loaded: dict[str, Any] = json.loads((files("audit.ocds") / "schema" / name).read_text("utf-8"))
    return loaded


@cache
def _registry() -> Registry:
    resources = [(schema(n)["id"], Resource.from_contents(schema(n), DRAFT4)) for n in FILES]
    return Registry().with_resources(resources)


def errors(document: dict[str, Any], name: str) -> list[str]:
    """Every validation error, as `path: message`; empty when the document is valid."""
    validator = Draft4Validator(schema(name), registry=_registry())
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]
