"""The importer's incremental compile merges and unflattens only the top-level fields that
differ from the last merged release (`_Compiling`): whatever the releases restate, change,
leave out or set to null, each compiled release is `ocdsmerge`'s compile of them all."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.ocds.importer import _Compiling
from audit.ocds.packages import merger

# Few variants per field, so that a release often restates the last one's value exactly.
TENDERS = [
    {"id": "t", "title": "Telefonie", "status": "active"},
    {"id": "t", "title": "Telefonie", "status": "complete"},
    {"id": "t", "title": None, "status": "active"},  # null: the field leaves the compile
    {"id": "t", "lots": [{"id": "L1", "title": "Perceel 1"}, {"id": "L2", "title": None}]},
    {"id": "t", "lots": [{"id": "L2", "status": "cancelled"}]},
]
PARTIES = [
    [{"id": "NL-KVK-1", "name": "A", "roles": ["buyer"]}],
    [{"id": "NL-KVK-1", "name": "A2"}, {"id": "NL-KVK-2", "name": "B", "roles": ["supplier"]}],
    [],
]
AWARDS = [
    [{"id": "a1", "status": "pending", "suppliers": [{"id": "NL-KVK-2"}]}],
    [{"id": "a1", "status": "active"}],
    [{"id": "a2", "status": "pending", "value": {"amount": 5, "currency": "EUR"}}],
]
BUYERS = [{"id": "NL-KVK-1", "name": "A"}, {"id": "NL-KVK-1", "name": None}]
FIELDS = {"tender": TENDERS, "parties": PARTIES, "awards": AWARDS, "buyer": BUYERS,
          "language": ["nl", "en", None]}  # fmt: skip


@st.composite
def releases(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for n in range(draw(st.integers(2, 7))):
        day = draw(st.integers(1, 9)) if draw(st.booleans()) else n + 1  # mostly in order
        release: dict[str, Any] = {"ocid": "ocds-x-1", "id": f"r{n}", "tag": ["tender"],
                                   "date": f"2020-01-0{day}T00:00:00Z"}  # fmt: skip
        for field, variants in FIELDS.items():
            if draw(st.booleans()):
                release[field] = draw(st.sampled_from(variants))
        found.append(release)
    return found


@settings(max_examples=200, deadline=None)
@given(releases(), st.lists(st.booleans(), min_size=7, max_size=7))
def test_each_compiled_release_is_the_full_compile(
    found: list[dict[str, Any]], accepted: list[bool]
) -> None:
    compiling = _Compiling(found[:1])
    for release, take in zip(found[1:], accepted, strict=False):
        expected = merger().create_compiled_release([*compiling.releases, release])
        assert compiling.with_release(release) == expected
        if take:
            compiling.take(release)
