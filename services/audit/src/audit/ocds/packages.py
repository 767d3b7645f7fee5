"""Release and record packages (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.ocds.merge import compile_releases, version_releases
from audit.ocds.releases import Release

PUBLISHER = {"name": "GT contract registry (VNG / KING joint procurement)"}
BASE_URI = "https://registry.gt.example/ocds"


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
    return {
        "ocid": releases[0]["ocid"],
        "releases": list(releases),
        "compiledRelease": compile_releases(list(releases)),
        "versionedRelease": version_releases(list(releases)),
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
