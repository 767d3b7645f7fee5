"""The OCDS extensions our releases use: their official extension.json URLs (declared in every
package) and the release-schema patches we validate and merge with.

The official release-schema.json of each extension could not be downloaded where this was
written, so each patch here is written by hand from the extension's documentation and holds
only the fields we publish, with the types the extension gives them. A patch is a JSON Merge
Patch (RFC 7386) on the 1.1.5 release schema, as OCDS applies extensions.
"""

from __future__ import annotations

import copy
from typing import Any

_BASE = "https://raw.githubusercontent.com/open-contracting-extensions"
LOTS = f"{_BASE}/ocds_lots_extension/v1.1.5/extension.json"
BID = f"{_BASE}/ocds_bid_extension/v1.1.5/extension.json"
# The framework guidance declares the techniques extension by its master branch.
TECHNIQUES = f"{_BASE}/ocds_techniques_extension/master/extension.json"
STATUS_DETAILS = f"{_BASE}/ocds_status_details_extension/master/extension.json"
EXTENSIONS = (LOTS, BID, TECHNIQUES, STATUS_DETAILS)

_TEXT = {"type": ["string", "null"]}
_PERIOD = {"$ref": "#/definitions/Period"}
_VALUE = {"$ref": "#/definitions/Value"}
_STATUS_DETAILS = {"properties": {"statusDetails": {"title": "Status details", **_TEXT}}}
_TENDER_STATUS = ["planning", "planned", "active", "cancelled", "unsuccessful", "complete",
                  "withdrawn", None]  # fmt: skip

_FRAMEWORK_METHODS = ["withoutReopeningCompetition", "withReopeningCompetition",
                      "withAndWithoutReopeningCompetition", None]  # fmt: skip

PATCHES: dict[str, dict[str, Any]] = {
    # Lots: tender.lots, award.relatedLots.
    LOTS: {
        "definitions": {
            "Tender": {
                "properties": {
                    "lots": {"type": "array", "items": {"$ref": "#/definitions/Lot"}},
                }
            },
            "Award": {
                "properties": {
                    "relatedLots": {"type": ["array", "null"], "items": {"type": "string"}}
                }
            },
            "Lot": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "title": _TEXT,
                    "description": _TEXT,
                    "status": {"type": ["string", "null"], "enum": _TENDER_STATUS},
                    "value": _VALUE,
                    "contractPeriod": _PERIOD,
                },
            },
        }
    },
    # Bids: the bids received per lot (bids.statistics, measure from bidStatistics).
    BID: {
        "properties": {"bids": {"$ref": "#/definitions/Bids"}},
        "definitions": {
            "Bids": {
                "type": "object",
                "properties": {
                    "statistics": {
                        "type": "array",
                        "items": {"$ref": "#/definitions/Statistic"},
                    }
                },
            },
            "Statistic": {
                "type": "object",
                "required": ["id", "measure", "value"],
                "properties": {
                    "id": {"type": "string"},
                    "measure": {"type": "string"},
                    "date": {"type": ["string", "null"], "format": "date-time"},
                    "value": {"type": ["number", "null"]},
                    "notes": _TEXT,
                    "relatedLot": _TEXT,
                },
            },
        },
    },
    # Techniques: a framework agreement and its details.
    TECHNIQUES: {
        "definitions": {
            "Tender": {"properties": {"techniques": {"$ref": "#/definitions/Techniques"}}},
            "Techniques": {
                "type": "object",
                "properties": {
                    "hasFrameworkAgreement": {"type": ["boolean", "null"]},
                    "frameworkAgreement": {"$ref": "#/definitions/FrameworkAgreement"},
                },
            },
            "FrameworkAgreement": {
                "type": "object",
                "properties": {
                    "periodRationale": _TEXT,
                    "method": {"type": ["string", "null"], "enum": _FRAMEWORK_METHODS},
                    "period": _PERIOD,
                    "value": _VALUE,
                },
            },
        }
    },
    # Status details: the registry's own words beside the closed status codes.
    STATUS_DETAILS: {
        "definitions": {
            "Tender": _STATUS_DETAILS,
            "Award": _STATUS_DETAILS,
            "Contract": _STATUS_DETAILS,
        }
    },
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch, without changing either argument."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    _patch_in_place(merged, patch)
    return merged


def _patch_in_place(merged: dict[str, Any], patch: dict[str, Any]) -> None:
    """`merged` (a copy of our own) patched: the target is copied once, not again at every
    level of every patch (which made building the patched schema a quarter of an import's
    CPU on a small package)."""
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            _patch_in_place(merged[key], value)
        else:
            merged[key] = merge_patch(None, value)


def patched(release_schema: dict[str, Any], extensions: tuple[str, ...] = EXTENSIONS) -> Any:
    """The release schema with the declared extensions applied (each a merge patch, in
    order, on one copy of the schema)."""
    unknown = [e for e in extensions if e not in PATCHES]
    if unknown:
        raise ValueError(f"no schema patch for extension(s) {unknown}; known: {list(PATCHES)}")
    schema = copy.deepcopy(release_schema)
    for extension in extensions:
        patch = PATCHES[extension]
        if isinstance(patch, dict):
            _patch_in_place(schema, patch)
        else:
            schema = copy.deepcopy(patch)
    return schema
