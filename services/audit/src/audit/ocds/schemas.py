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
def patched_release_schema() -> dict[str, Any]:
    """The 1.1.5 release schema with the extensions every package declares applied."""
    from audit.ocds.extensions import patched

    result: dict[str, Any] = patched(schema("release-schema.json"))
    return result


def _resolved(name: str) -> dict[str, Any]:
    return patched_release_schema() if name == "release-schema.json" else schema(name)


@cache
def _registry() -> Registry:
    resources = [(schema(n)["id"], Resource.from_contents(_resolved(n), DRAFT4)) for n in FILES]
    return Registry().with_resources(resources)


@cache
def _validator(name: str) -> Draft4Validator:
    # Made once per schema: a validator keeps no state between documents.
    return Draft4Validator(
        _resolved(name), registry=_registry(), format_checker=Draft4Validator.FORMAT_CHECKER
    )


def errors(document: dict[str, Any], name: str) -> list[str]:
    """Every validation error, as `path: message`; empty when the document is valid against
    the 1.1.5 schema `name` with the declared extensions (audit.ocds.extensions) applied."""
    validator = _validator(name)
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]
