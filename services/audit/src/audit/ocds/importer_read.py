"""Read published OCDS data: release packages, record packages, JSON Lines, gzip (pure).

Each release comes with the JSON path it was found at (`$.releases[3]`, `line 7: $`), so a
release that cannot be imported is reported where a reader can find it.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Decompressed input at most (attack9): a few MB of gzip can expand to terabytes (a gzip
# bomb); the largest OCDS bulk files published are well under this.
MAX_DECOMPRESSED = 1 << 30


@dataclass(frozen=True)
class Source:
    publisher: str
    uri: str | None = None


@dataclass(frozen=True)
class Item:
    """One release found in the input, or the problem that stood where one should be."""

    path: str
    source: Source
    release: dict[str, Any] | None = None
    problem: str | None = None


def read(data: bytes, default_publisher: str) -> Iterator[Item]:
    unknown = Source(default_publisher)
    if data[:2] == b"\x1f\x8b":
        max_decompressed = MAX_DECOMPRESSED
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                data = unzipped.read(max_decompressed + 1)
        except (OSError, EOFError) as exc:
            yield Item("$", unknown, problem=f"not a readable gzip file: {exc}")
            return
        if len(data) > max_decompressed:
            yield Item(
                "$",
                unknown,
                problem=f"the gzip file expands to more than {max_decompressed} bytes;"
                " decompress it and import the parts",
            )
            return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Item("$", unknown, problem=f"not UTF-8 text: {exc}")
        return
    try:
        whole = json.loads(text)
    except RecursionError:
        yield Item("$", unknown, problem="bad JSON: nested too deeply for an OCDS package")
        return
    except json.JSONDecodeError:
        whole = None
        lines = text.splitlines()
        if len([line for line in lines if line.strip()]) <= 1:
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                yield Item("$", unknown, problem=f"bad JSON: {exc}")
                return
    if whole is not None:
        yield from _document(whole, "$", default_publisher)
        return
    for n, line in enumerate(text.splitlines(), start=1):  # JSON Lines
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Item(f"line {n}", unknown, problem=f"bad JSON: {exc}")
            continue
        except RecursionError:
            yield Item(f"line {n}", unknown, problem="bad JSON: nested too deeply")
            continue
        yield from _document(value, f"line {n}: $", default_publisher)


def _document(value: Any, path: str, default_publisher: str) -> Iterator[Item]:
    if not isinstance(value, dict):
        yield Item(path, Source(default_publisher), problem="not a JSON object")
        return
    publisher = value.get("publisher")
    name = publisher.get("name") if isinstance(publisher, dict) else None
    source = Source(name if isinstance(name, str) and name else default_publisher,
                    value.get("uri") if isinstance(value.get("uri"), str) else None)  # fmt: skip
    if "releases" in value and "ocid" not in value:
        yield from _releases(value["releases"], f"{path}.releases", source)
    elif "records" in value:
        records = value["records"]
        if not isinstance(records, list):
            yield Item(f"{path}.records", source, problem="records is not a list")
            return
        for i, record in enumerate(records):
            yield from _record(record, f"{path}.records[{i}]", source)
    elif "ocid" in value or "tag" in value or "date" in value:
        yield Item(path, source, release=value)  # a release on its own (JSON Lines)
    else:
        yield Item(path, source, problem="neither a release package, a record package nor a"
                   " release (no releases, records or ocid)")  # fmt: skip


def _releases(releases: Any, path: str, source: Source) -> Iterator[Item]:
    if not isinstance(releases, list):
        yield Item(path, source, problem="releases is not a list")
        return
    for i, release in enumerate(releases):
        if isinstance(release, dict):
            yield Item(f"{path}[{i}]", source, release=release)
        else:
            yield Item(f"{path}[{i}]", source, problem="a release is a JSON object")


def _record(record: Any, path: str, source: Source) -> Iterator[Item]:
    if not isinstance(record, dict):
        yield Item(path, source, problem="a record is a JSON object")
        return
    releases = record.get("releases")
    embedded = isinstance(releases, list) and all(
        isinstance(r, dict) and "url" not in r for r in releases
    )
    if embedded and releases:
        yield from _releases(releases, f"{path}.releases", source)
    elif isinstance(record.get("compiledRelease"), dict):
        # Linked releases only: the compiled release is the one full account of the process.
        yield Item(f"{path}.compiledRelease", source, release=record["compiledRelease"])
    else:
        yield Item(path, source, problem="a record without embedded releases or a"
                   " compiledRelease")  # fmt: skip
