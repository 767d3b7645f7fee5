"""Real published OCDS data (tests/service/data/ocds/base-gov-pt, README.md: IMPIC's BASE
portal, Portugal, CC BY 4.0): 40 releases of 40 direct awards, whose contracts mostly state
no end, start or signing day (only `durationInDays`). Imported whole (import33; before,
33 of these 40 were refused: `contracts[0].period.endDate`, a contract recorded with its
end), each process's re-export equal to ocdsmerge's compile of its release on every mapped
field, and a re-run changing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.ocds.packages import merger
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.subjects import REGISTRY
from tests.service.test_ocds_round_trip import (
    MAPPED,
    UNMAPPED,
    _covered,
    _paths,
    registry,
    round_trip,
)

DATA = Path(__file__).parent / "data" / "ocds" / "base-gov-pt" / "releases.json"
PACKAGE = json.loads(DATA.read_text())
RELEASES = [r["id"] for r in PACKAGE["releases"]]


def _alone(release: dict[str, Any]) -> bytes:
    return json.dumps({**{k: v for k, v in PACKAGE.items() if k != "releases"},
                       "releases": [release]}).encode()  # fmt: skip


@pytest.mark.parametrize("release_id", RELEASES)
async def test_each_real_process_survives_a_round_trip(release_id: str) -> None:
    """Fails before (33 of 40): refused at `contracts[0].period.endDate`."""
    [release] = [r for r in PACKAGE["releases"] if r["id"] == release_id]
    source, ours = await round_trip([_alone(release)])
    assert ours == source
    assert source["contracts"]  # the comparison compares a contract


async def test_the_real_feed_is_imported_whole_and_once() -> None:
    store, _clock, bus = await registry()
    report = await import_items(read(DATA.read_bytes(), "test"), bus.request, store)
    assert (report.imported, report.skipped, report.duplicates) == (40, [], 0)
    ended = {}
    for release in PACKAGE["releases"]:
        [c] = release["contracts"]
        cid = f"{release['ocid']}-{c['id']}"
        mine = [s.envelope async for s in store.read_stream(REGISTRY)
                if s.envelope.aggregate_id == cid]  # fmt: skip
        fold = FOLDS["registry", "contract"]
        state = fold.replay(cid, [typed_event(e.event_type, e.payload, e.schema_version)
                                  for e in mine])  # fmt: skip
        ended[cid] = (state.end_stated, "endDate" in (c.get("period") or {}))
    assert all(stated == published for stated, published in ended.values()), ended
    assert sum(not stated for stated, _ in ended.values()) == 33
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(DATA.read_bytes(), "test"), bus.request, store)
    assert (again.imported, again.skipped, again.duplicates) == (0, [], 40)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


def test_every_field_of_the_real_feed_is_mapped_or_listed_unmapped() -> None:
    found = set()
    for release in PACKAGE["releases"]:
        found |= set(_paths(merger().create_compiled_release([release])))
    assert sorted(p for p in found if not _covered(p, MAPPED + UNMAPPED)) == []
    assert sorted(p for p in found if _covered(p, MAPPED) and _covered(p, UNMAPPED)) == []
