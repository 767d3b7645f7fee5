"""The OCDS 1.1.5 schemas shipped inside the package, and validators that never go online.

`errors` is `jsonschema`'s verdict and messages. A document is first asked of a compiled
validator (`jsonschema_rs`, draft 4, formats checked; ~100x faster): what it finds valid
is valid for `jsonschema` too (both pass the draft-4 test suite; it checks formats that
`jsonschema` here may not, so it can only be stricter), and only a document it refuses is
validated again by `jsonschema` for the errors and their paths. Its one known difference
from Python's `re` (`$` matching before a final newline in the language-tagged property
patterns) is kept out: a document with a key ending in a newline goes to `jsonschema`."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema_rs
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from eventstore.fast_json import json_bytes

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


# Every shipped schema is checked quickly first: the package schemas refer to the release
# schema (and the record package to the versioned one) by its URL, which the compiled
# validator is given from the shipped files (`_shipped`): nothing is fetched.
QUICK = FILES


def _shipped(uri: str) -> dict[str, Any]:
    """The shipped schema whose id is `uri` (the release schema with the declared extensions
    applied, as `jsonschema` resolves it here: `_registry`)."""
    for name in FILES:
        if schema(name)["id"] == uri.split("#", 1)[0]:
            return _resolved(name)
    raise LookupError(f"{uri} is not a shipped OCDS 1.1.5 schema; nothing is fetched")


@cache
def _quick(name: str) -> Any:
    return jsonschema_rs.Draft4Validator(_resolved(name), validate_formats=True, retriever=_shipped)


def errors(document: dict[str, Any], name: str) -> list[str]:
    """Every validation error, as `path: message`; empty when the document is valid against
    the 1.1.5 schema `name` with the declared extensions (audit.ocds.extensions) applied."""
    if name in QUICK and _plain_keys(document) and _quick(name).is_valid(document):
        return []
    return full_errors(document, name)


def full_errors(document: dict[str, Any], name: str) -> list[str]:
    """`errors`, always from `jsonschema` (the reference the quick check is tested on)."""
    validator = _validator(name)
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in found]


def _plain_keys(document: Any) -> bool:
    """No key ends in a newline (where `re`'s `$` and the compiled validator's differ): such
    a key is written `...\\n": ` in JSON (a value never precedes a colon; a false alarm only
    sends the document to `jsonschema`). Its text written in C (`fast_json`: a key reads
    the same there; ~7% of the importer's CPU when `json` wrote it, import15)."""
    return b'\\n":' not in json_bytes(document)
