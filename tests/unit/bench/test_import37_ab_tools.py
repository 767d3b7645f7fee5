"""import37's A/B tools: the importer's mapping loaded from a git revision beside this
checkout's maps the bench's releases as this checkout does (so `bench.import_map_ab` and
`bench.import_timeline --importer-base` compare the same work), and the typed-facts reading
of `bench.import_facts_ab` gives the events the registry decodes."""

from __future__ import annotations

import sys

import pytest

from bench.import_facts_ab import _commands, messages, typed_request
from bench.import_map_ab import ROOT, _result, inputs, load_revision


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="no git checkout to load from")
def test_a_revisions_mapping_is_loaded_beside_ours_and_maps_the_same() -> None:
    from audit.ocds import importer_map, importer_unrecorded

    ours = sys.modules["audit.ocds.importer_map"]
    theirs = load_revision("HEAD")
    assert theirs is not importer_map
    assert theirs.map_release is not importer_map.map_release
    # This checkout's modules are the ones imported still; A's call A's own helpers.
    assert sys.modules["audit.ocds.importer_map"] is ours
    assert sys.modules["audit.ocds.importer_unrecorded"] is importer_unrecorded
    assert theirs.invisible_texts is not importer_unrecorded.invisible_texts
    kept = inputs(3)
    assert len(kept) == 12  # three processes of four releases, each mapped once
    for args in kept:
        assert _result(theirs.map_release(*args)) == _result(importer_map.map_release(*args))


def test_typed_facts_read_as_the_registry_decodes_them() -> None:
    from contracts_schema.upcasting import decode
    from registry.import_service import _WholeGroup

    data = messages(70)  # more than one group's processes: at least one group message
    assert data
    typed = typed_request()
    facts = 0
    for message in data:
        plain, each = _WholeGroup.model_validate_json(message), typed.model_validate_json(message)
        for a, b in zip(_commands(plain), _commands(each), strict=True):
            assert [f.event_type for f in a.facts] == [f.event_type for f in b.facts]
            for fa, fb in zip(a.facts, b.facts, strict=True):
                assert fb.payload == decode(fa.event_type, 1, fa.payload)
                facts += 1
    assert facts > 70
