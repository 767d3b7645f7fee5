"""Release and record packages (pure), records compiled and versioned by `ocdsmerge`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import ocdsmerge

from audit.ocds.releases import Release
from audit.ocds.schemas import schema

PUBLISHER = {"name": "GT contract registry (VNG / KING joint procurement)"}
BASE_URI = "https://registry.gt.example/ocds"


@cache
def merger() -> ocdsmerge.Merger:
    # The reference implementation of the OCDS merge rules, given the shipped 1.1.5 release
    # schema: without one it would download it.
    return ocdsmerge.Merger(schema=schema("release-schema.json"))


def release_package(releases: Sequence[Release], published: str, name: str) -> dict[str, Any]:
    return {
        "uri": f"{BASE_URI}/releases/{name}.json",
        "version": "1.1",
        "publishedDate": published,
        "publisher": PUBLISHER,
        "releases": list(releases),
    }


def record(releases: Sequence[Release]) -> dict[str, Any]:
    if not releases:
        raise ValueError("a record needs at least one release")
    compiled: dict[str, Any] = merger().create_compiled_release(list(releases))
    versioned: dict[str, Any] = merger().create_versioned_release(list(releases))
    return {
        "ocid": releases[0]["ocid"],
        "releases": list(releases),
        "compiledRelease": compiled,
        "versionedRelease": versioned,
    }


def record_package(
    processes: Sequence[Sequence[Release]], published: str, name: str
) -> dict[str, Any]:
    return {
        "uri": f"{BASE_URI}/records/{name}.json",
        "version": "1.1",
        "publishedDate": published,
        "publisher": PUBLISHER,
        "records": [record(r) for r in processes if r],
    }
