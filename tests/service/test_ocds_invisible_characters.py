"""A release whose recorded name or title holds a character that shows as nothing (zero
width space, word joiner, byte order mark, soft hyphen) or a direction control (review18a 7).

Commands refuse them (contracts_schema.bounds) but imported facts are events, whose types stay
unbounded so stored history still reads: before, such a release was imported silently and a
look-alike title or organisation name recorded. Now it is refused whole (NOT_RECORDABLE, as
any change no fact records), its path and the character named; nothing of it stored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.subjects import REGISTRY
from tests.service.test_ocds_restated import TENDER, _history, _package
from tests.service.test_ocds_round_trip import REFUSED, registry

CASES = {
    "tender.title": ("\u200b", "U+200B ZERO WIDTH SPACE"),
    "tender.lots[0].title": ("\u2060", "U+2060 WORD JOINER"),
    "parties[0].name": ("\u00ad", "U+00AD SOFT HYPHEN"),
    "parties[1].name": ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    "tender.title ": ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
}


def _with(path: str, char: str) -> list[dict[str, Any]]:
    releases = _history(copy.deepcopy(TENDER))
    first = releases[0]
    if path.startswith("parties"):
        first["parties"] = copy.deepcopy(first["parties"])
        i = int(path[8])
        first["parties"][i]["name"] = f"Ge{char}meente"
    elif path.startswith("tender.lots"):
        first["tender"]["lots"][0]["title"] = f"Va{char}st"
    else:
        first["tender"]["title"] = f"Tele{char}fonie"
    return releases


@pytest.mark.parametrize("case", list(CASES))
async def test_an_invisible_character_in_a_name_refuses_its_release(case: str) -> None:
    """Fails before: imported, the title or name recorded with the character."""
    char, named = CASES[case]
    store, _clock, bus = await registry()
    report = await import_items(read(_package(*_with(case.strip(), char)), "test"),
                                bus.request, store)  # fmt: skip
    [problem, *_] = report.skipped
    assert problem.path == f"$.releases[0].{case.strip()}", problem
    assert problem.reason.startswith(REFUSED), problem
    assert named in problem.reason, problem
    stored = [s.envelope.payload async for s in store.read_stream(REGISTRY)]
    assert char not in json.dumps(stored, ensure_ascii=False)


async def test_a_field_the_registry_does_not_record_is_not_refused() -> None:
    """A document's title with a soft hyphen (common in text from word processors) is not a
    name the registry records: the release is imported."""
    releases = _history(copy.deepcopy(TENDER))
    releases[0]["tender"]["documents"] = [{"id": "d1", "title": "Be\u00adstek"}]
    store, _clock, bus = await registry()
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.skipped, report.imported) == ([], 3)
