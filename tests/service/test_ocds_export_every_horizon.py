"""#17: every export -- each process, each horizon, the bulk export -- is valid against the
OCDS 1.1.5 release and record package schemas with the declared extensions applied
(`audit.ocds.schemas.errors`: the patched release schema behind both package schemas).

Each horizon: a process's export changes only on a day one of its facts became true (each
such fact is a release of it, dated so), so it is exported as of the end of every such day
and of the day before its first one (nothing to export: refused, `require`, never an empty
package). The processes are those of the committed corpus (the demo, an imported published
process and generated histories: every event type) and generated imported processes, whose
releases are recorded one by one at later and later known times: exported at every (valid
day, known time) pair as well."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from audit.bitemporal import Horizon, end_of_day
from audit.ocds.export import Register, UnknownProcess, packages, require
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.ocds.packages import Publication
from audit.ocds.schemas import errors
from audit.ocds_cli import BulkFormat, bulk_export
from contracts_schema.calendar import dutch_day
from tests.corpus import corpus
from tests.service.test_ocds_round_trip import processes, registry

PUBLICATION = Publication.configured("https://register.example.org/ocds/")


def _days(exported_releases: list[dict[str, Any]]) -> list[date]:
    """The Dutch days on which the process's export changed: its releases' dates."""
    return sorted({dutch_day(datetime.fromisoformat(r["date"])) for r in exported_releases})


class _Checked:
    """Validates each distinct package once (consecutive horizons often export the same)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def package(self, register: Register, process_id: str, where: str) -> bool:
        """Whether the process had anything to export at the register's horizon; its
        packages validated when it had."""
        exported = register.export(process_id)
        if exported.empty:
            with pytest.raises(UnknownProcess):  # refused, never an empty package
                require(exported, register.at)
            return False
        built = packages(exported, process_id, register.at.known_at, PUBLICATION)
        key = json.dumps(built, sort_keys=True, default=str)
        if key not in self.seen:
            self.seen.add(key)
            for part, name in (("release_package", "release-package-schema.json"),
                               ("record_package", "record-package-schema.json")):  # fmt: skip
                self.problems += [f"{where} {part}: {e}" for e in errors(built[part], name)]
        return True


async def test_every_corpus_process_exports_valid_at_every_horizon_and_so_does_the_bulk() -> None:
    store = await corpus.loaded("2026-11-v3")
    known = corpus.EXPORTED_AT
    final = await Register.read(store, Horizon(known, known))
    checked = _Checked()
    bulk_days: set[date] = {date(1900, 1, 1)}  # before any process
    ids = list(final.process_ids())
    assert len(ids) > 10  # the demo's tenders, the imported process, generated ones
    for process_id in ids:
        whole = final.export(process_id)
        days = _days([r for p in whole.processes for r in p])
        assert days, process_id
        before = days[0] - timedelta(days=1)
        bulk_days.add(days[0])
        for day in (before, *days):
            at = dataclasses.replace(final, at=Horizon(end_of_day(day), known))
            had = checked.package(at, process_id, f"{process_id} as of {day}")
            assert had == (day != before), (process_id, day)
    assert checked.problems == []
    assert len(checked.seen) > 100  # every change of every process, not a handful
    # The bulk export, each format, as of the day before the first process began, the day
    # the median one began and the day the last one did (it streams the exports above).
    firsts = sorted(bulk_days)
    for day in (firsts[0], firsts[len(firsts) // 2], firsts[-1]):
        at = dataclasses.replace(final, at=Horizon(end_of_day(day), known))
        for kind in BulkFormat:
            sink = io.StringIO()
            _count, items, problems = bulk_export(at, sink, kind, PUBLICATION)
            assert problems == [], (day, kind)
            if kind is not BulkFormat.jsonl and items:
                name = (
                    f"{'record' if kind is BulkFormat.records else 'release'}-package-schema.json"
                )
                assert errors(json.loads(sink.getvalue()), name) == [], (day, kind)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(processes())
async def test_an_imported_process_exports_valid_at_every_valid_and_known_horizon(
    package: bytes,
) -> None:
    store, clock, bus = await registry()
    source = json.loads(package)
    known_times = []
    for n, release in enumerate(source["releases"]):  # one by one, each known a day later
        clock.advance(timedelta(days=1))
        one = json.dumps({**source, "releases": [release]}).encode()
        report = await import_items(read(one, f"release {n}"), bus.request, store)
        assert not report.skipped, report.skipped
        known_times.append(clock.now())
    now = datetime.now(UTC)
    final = await Register.read(store, Horizon(now, now))
    [process_id] = list(final.process_ids())
    days = _days(final.export(process_id).tender)
    checked = _Checked()
    for known in known_times:
        register = await Register.read(store, Horizon(now, known))
        for day in (days[0] - timedelta(days=1), *days):
            at = dataclasses.replace(register, at=Horizon(end_of_day(day), known))
            checked.package(at, process_id, f"as of {day} known at {known}")
    assert checked.problems == []
