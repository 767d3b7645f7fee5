"""Release and record packages (pure), records compiled and versioned by `ocdsmerge`.

What a package says about its publication (publisher, license, publication policy, where
it lives) comes from configuration: `OcdsSettings` (GT_OCDS_*), documented in docs/ocds.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

import ocdsmerge
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from audit.ocds.extensions import EXTENSIONS
from audit.ocds.releases import Release
from audit.ocds.schemas import patched_release_schema

CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


class OcdsSettings(BaseSettings):
    """GT_OCDS_*: how this registry publishes OCDS."""

    model_config = SettingsConfigDict(env_prefix="GT_OCDS_", extra="ignore", allow_inf_nan=False)

    publisher_name: str = Field(
        default="GT contract registry (VNG / KING joint procurement)",
        description="Package publisher.name.",
    )
    publisher_scheme: str | None = Field(
        default=None, description="publisher.scheme, e.g. NL-KVK (org-id.guide list code)."
    )
    publisher_uid: str | None = Field(default=None, description="publisher.uid in that scheme.")
    publisher_uri: str | None = Field(default=None, description="publisher.uri.")
    uri_base: str | None = Field(
        default=None,
        description="Where the exported packages are published (a directory URL). Each"
        " package's uri is <base>/<file name the export writes>. Unset: the CLI uses the"
        " file:// URL of the file it writes, the gateway its own GraphQL URL.",
    )
    graphql_url: str = Field(
        default="http://127.0.0.1:8000/graphql",
        description="The gateway's GraphQL URL as its users reach it: with no URI base, a"
        " package from the `ocds` query names the GET request that answers it.",
    )
    license: str = Field(default=CC0, description="Package license URL.")
    publication_policy: str | None = Field(
        default=None,
        description="Package publicationPolicy URL. Unset: <uri base>/publication-policy.md,"
        " which the CLI writes beside the packages.",
    )


@dataclass(frozen=True)
class Publication:
    """Package metadata for one export: the configured publisher, license and policy, and
    how to name a package's URI."""

    settings: OcdsSettings
    base: str | None  # the URI base packages resolve under; None: `uri_of` must be given
    uri_of: dict[str, str] | None = None  # file name -> URI, where known exactly

    @classmethod
    def configured(cls, base: str | None = None) -> Publication:
        settings = OcdsSettings()
        return cls(settings, (settings.uri_base or base or "").rstrip("/") or None)

    def uri(self, file_name: str) -> str:
        if self.uri_of and file_name in self.uri_of:
            return self.uri_of[file_name]
        if self.base is None:
            raise ValueError("GT_OCDS_URI_BASE is not set and no URI is known for the package")
        return f"{self.base}/{file_name}"

    def metadata(self, file_name: str, published: str) -> dict[str, Any]:
        s = self.settings
        publisher = {"name": s.publisher_name, "scheme": s.publisher_scheme,
                     "uid": s.publisher_uid, "uri": s.publisher_uri}  # fmt: skip
        policy = s.publication_policy or (f"{self.base}/{POLICY_FILE}" if self.base else None)
        meta = {
            "uri": self.uri(file_name),
            "version": "1.1",
            "extensions": list(EXTENSIONS),
            "publishedDate": published,
            "publisher": {k: v for k, v in publisher.items() if v},
            "license": s.license,
            "publicationPolicy": policy,
        }
        return {k: v for k, v in meta.items() if v is not None}


POLICY_FILE = "publication-policy.md"


def graphql_publication(
    process_id: str, as_of: date | datetime | None, known_at: datetime
) -> Publication:
    """For the gateway: the configured URI base, or else the GET request of the `ocds`
    query that answers this very package (at this K, so it answers the same bytes)."""
    configured = Publication.configured()
    if configured.base:
        return configured
    args = f'tenderId: {json.dumps(process_id)}, knownAt: "{known_at.isoformat()}"'
    if as_of is not None:
        args += f', asOf: "{as_of.isoformat()}"'
    url = f"{configured.settings.graphql_url}?{urlencode({'query': '{ ocds(' + args + ') }'})}"
    files = {releases_file(process_id): url, records_file(process_id): url}
    return Publication(configured.settings, None, files)


def releases_file(name: str) -> str:
    return f"{name}-releases.json"


def records_file(name: str) -> str:
    return f"{name}-records.json"


@cache
def merger() -> ocdsmerge.Merger:
    # The reference implementation of the OCDS merge rules, given the shipped 1.1.5 release
    # schema with the declared extensions' patches: without one it would download it.
    return ocdsmerge.Merger(schema=patched_release_schema())


def release_package(
    releases: Sequence[Release], published: str, name: str, how: Publication
) -> dict[str, Any]:
    return {**how.metadata(releases_file(name), published), "releases": list(releases)}


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
    processes: Sequence[Sequence[Release]], published: str, name: str, how: Publication
) -> dict[str, Any]:
    return {
        **how.metadata(records_file(name), published),
        "records": [record(r) for r in processes if r],
    }
