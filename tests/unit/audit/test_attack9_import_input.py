"""attack9: `audit ocds import` reads hostile input without exhausting the machine. Before: a
JSON nested a million levels deep raised RecursionError out of `read` (a traceback, not a
problem naming the input), and gzip input was decompressed whole, however large it expands (a
5 KB gzip bomb here, a few MB for gigabytes); now decompression stops past
`MAX_DECOMPRESSED` and says so."""

from __future__ import annotations

import gzip

import pytest

from audit.ocds import importer_read
from audit.ocds.importer_read import read


def test_json_nested_a_million_deep_is_a_problem_not_a_traceback() -> None:
    [item] = list(read(b"[" * 1_000_000 + b"]" * 1_000_000, "fixture"))
    assert item.release is None
    assert item.problem == "bad JSON: nested too deeply for an OCDS package"


def test_a_json_lines_line_nested_too_deep_is_named_and_the_rest_read() -> None:
    lines = b'{"ocid": "ocds-x-1", "id": "1", "date": "2020-01-01T00:00:00Z", "tag": ["tender"]}'
    items = list(read(lines + b"\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n", "fixture"))
    assert [(i.path, i.problem) for i in items][1] == ("line 2", "bad JSON: nested too deeply")
    assert items[0].release is not None


def test_a_gzip_bomb_is_refused_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_read, "MAX_DECOMPRESSED", 1 << 20, raising=False)
    bomb = gzip.compress(b" " * (8 << 20))  # 8 MiB of spaces in ~8 KB
    assert len(bomb) < 20_000
    [item] = list(read(bomb, "fixture"))
    assert item.problem == (
        f"the gzip file expands to more than {1 << 20} bytes; decompress it and import the parts"
    )
    # Within the limit, gzip input reads as before.
    small = gzip.compress(b'{"releases": []}')
    assert [i.problem for i in read(small, "fixture")] == []
