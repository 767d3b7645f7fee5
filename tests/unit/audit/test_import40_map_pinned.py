"""import40: `map_release` restructured for speed maps every input exactly as before.

The inputs are every call the importer makes of `map_release` for the bench's package (40
processes of four releases) and for each OCDS file shipped as a test fixture (the standard's
published examples and Portugal's BASE feed), each imported on its own against a stand-in
registry that accepts everything. What each call gives -- the commands' JSON forms and the
state after, or the refusal's type, path and reason -- is hashed; the digests below were
taken with the mapping as it was before import40 (`ea911e7c`, the merge of import39), so a
change of any command, fact, state or refusal on these inputs fails here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from bench.import_map_ab import _fixtures, inputs, outcome

BENCH_PROCESSES = 40
# sha256 of the outcomes (`_digest`), and how many calls, at ea911e7c.
PINNED = {
    "bench": ("658d58d2a4739da8f9edfc117d9e1ff600fdc420886ca8b4d8af67ff92b11d9a", 160),
    "fixtures": ("dd342a7840559aca23c3f4ace0e0791459aba673eb6e783c661a76b7fcf565d5", 59),
}


def _digest(map_release: Callable[..., Any], kept: list[tuple[Any, ...]]) -> str:
    outcomes = [outcome(map_release, args) for args in kept]
    text = json.dumps(outcomes, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("which", sorted(PINNED))
def test_map_release_maps_every_input_as_before(which: str) -> None:
    from audit.ocds.importer_map import map_release

    kept = inputs(BENCH_PROCESSES) if which == "bench" else inputs(0, _fixtures())
    digest, calls = PINNED[which]
    assert len(kept) == calls
    assert _digest(map_release, kept) == digest


def test_the_fixtures_hold_refusals_and_several_publishers() -> None:
    """The pin covers more than the bench's one shape: refused releases, contracts, and
    several publishers' releases (the real feed's among them)."""
    from audit.ocds.importer_map import map_release

    kept = inputs(0, _fixtures())
    results = [outcome(map_release, args) for args in kept]
    assert any(r[0] == "Unmappable" for r in results)  # a refusal pinned
    assert any(isinstance(r[0], dict) and r[1] for r in results)  # a contract command
    assert "IMPIC" in {args[3] for args in kept}  # Portugal's BASE, a real feed
